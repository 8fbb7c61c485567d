/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs a Node.js Open Inference Protocol client ({@code
 * src/test/node/oip_client.mjs}: @grpc/grpc-js and @grpc/proto-loader reading the canonical {@code
 * open_inference_grpc.proto}) against a {@link PredictServer} hosting the bundled iris ONNX model
 * on loopback TCP, and compares its answers with {@code Predict}'s for the same rows.
 *
 * <p>The Maven build installs the npm packages ({@code npm ci}, from the committed lock file) at
 * {@code process-test-resources}. Needs {@code node} (18+) on the PATH, or {@code
 * -Dnode.executable=/path/to/node}; without it this test fails rather than skips.
 */
class OpenInferenceNodeClientTest {
  private static final float[][] ROWS = {
    {5.1f, 3.5f, 1.4f, 0.2f},
    {6.0f, 2.7f, 5.1f, 1.6f},
    {6.7f, 3.0f, 5.2f, 2.3f},
    {4.9f, 3.0f, 1.4f, 0.2f}
  };
  private static final long TIMEOUT_SECONDS = 120;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @TempDir Path tmp;

  @Test
  void nodeClient_metadataReadinessInferenceAndErrors_matchPredict() throws Exception {
    Path moduleDir = Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    Path nodeDir = moduleDir.resolve("src/test/node");
    Path protoDir = moduleDir.resolve("../predict-api/src/main/proto").normalize();
    for (String pkg : List.of("@grpc/grpc-js", "@grpc/proto-loader")) {
      if (!Files.isDirectory(nodeDir.resolve("node_modules").resolve(pkg))) {
        fail(
            "%s is not installed in %s/node_modules: the Maven build runs 'npm ci' there at"
                + " process-test-resources (skipped with -Dnpm.skip or -DskipTests)",
            pkg, nodeDir);
      }
    }
    List<Long> expectedLabels = new ArrayList<>();
    List<Float> expectedProbabilities = new ArrayList<>();
    JsonNode summary;
    try (PredictServer server =
        PredictServer.builder(arrow.allocator())
            .bindAddress("127.0.0.1")
            .addModel(OnnxModel.builder("iris", OnnxModelTest.resource("iris_gbt.onnx")).build())
            .openInferenceProtocol(true)
            .build()
            .start()) {
      predict(server.port(), expectedLabels, expectedProbabilities);
      summary =
          run(
              List.of(
                  System.getProperty("node.executable", "node"),
                  "oip_client.mjs",
                  "--target",
                  "127.0.0.1:" + server.port(),
                  "--proto-dir",
                  protoDir.toString(),
                  "--rows",
                  new ObjectMapper().writeValueAsString(ROWS)),
              nodeDir);
    }

    assertThat(summary.get("live").asBoolean()).isTrue();
    assertThat(summary.get("ready").asBoolean()).isTrue();
    assertThat(summary.get("server").asText()).isEqualTo("predict-grpc");
    assertThat(summary.get("modelReady").asBoolean()).isTrue();
    assertThat(summary.get("unknownReady").asBoolean()).isFalse();
    assertThat(summary.get("metadata").toString())
        .isEqualTo(
            "{\"name\":\"iris\",\"versions\":[\"1\"],\"platform\":\"predict-grpc\","
                + "\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
                + "\"outputs\":[{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[-1]},"
                + "{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[-1,3]}]}");

    List<Long> labels = new ArrayList<>();
    summary.get("labels").forEach(v -> labels.add(v.asLong()));
    assertThat(labels).isEqualTo(expectedLabels).containsExactly(0L, 1L, 2L, 0L);
    List<Float> probabilities = new ArrayList<>();
    summary.get("probabilities").forEach(v -> probabilities.add((float) v.asDouble()));
    assertThat(probabilities).isEqualTo(expectedProbabilities);

    JsonNode errors = summary.get("errors");
    for (String name : List.of("wrongShape", "wrongDatatype", "shortRaw")) {
      assertThat(errors.get(name).get("code").asInt()).as(name).isEqualTo(3); // INVALID_ARGUMENT
      assertThat(errors.get(name).get("message").asText()).as(name).contains("input 'features'");
    }
    assertThat(errors.get("unknownModel").get("code").asInt()).isEqualTo(5); // NOT_FOUND
    assertThat(errors.get("unknownModelMetadata").get("code").asInt()).isEqualTo(5);
  }

  /** The same rows through {@code Predict}. */
  private void predict(int port, List<Long> labels, List<Float> probabilities) {
    String[] names = {"sepal_length", "sepal_width", "petal_length", "petal_width"};
    Batches.Builder batch = Batches.builder(arrow.allocator());
    for (int c = 0; c < 4; c++) {
      float[] column = new float[ROWS.length];
      for (int r = 0; r < ROWS.length; r++) {
        column[r] = ROWS[r][c];
      }
      batch.float32(names[c], column);
    }
    try (PredictClient client =
            PredictClient.builder("127.0.0.1:" + port, arrow.allocator()).build();
        VectorSchemaRoot input = batch.build();
        VectorSchemaRoot output = client.predict("iris", input)) {
      for (int r = 0; r < ROWS.length; r++) {
        labels.add(((BigIntVector) output.getVector("label")).get(r));
        for (int k = 0; k < 3; k++) {
          probabilities.add(((Float4Vector) output.getVector("probabilities_" + k)).get(r));
        }
      }
    }
  }

  /** Runs the script; fails with its output unless it exits 0 with a JSON line on stdout. */
  private JsonNode run(List<String> command, Path workingDir) throws Exception {
    Path out = tmp.resolve("stdout.txt");
    Path err = tmp.resolve("stderr.txt");
    Process process;
    try {
      process =
          new ProcessBuilder(command)
              .directory(workingDir.toFile())
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
    } catch (IOException e) {
      throw new AssertionError(
          "cannot run '"
              + command.get(0)
              + "': this test needs Node.js 18 or newer on the PATH"
              + " (or -Dnode.executable=...)",
          e);
    }
    if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      fail("the Node client did not finish in %d s\nstderr:\n%s", TIMEOUT_SECONDS, read(err));
    }
    String stdout = read(out);
    if (process.exitValue() != 0) {
      fail(
          "the Node client failed (exit %d): %s\nstdout:\n%s",
          process.exitValue(), read(err).strip(), stdout);
    }
    String[] lines = stdout.strip().split("\n");
    return new ObjectMapper().readTree(lines[lines.length - 1]);
  }

  private static String read(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
  }
}
