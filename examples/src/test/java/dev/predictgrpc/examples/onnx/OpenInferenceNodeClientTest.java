/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import dev.predictgrpc.testing.NodeScript;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
    NodeScript.requirePackages(nodeDir, List.of("@grpc/grpc-js", "@grpc/proto-loader"));
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
          new ObjectMapper()
              .readTree(
                  NodeScript.run(
                      List.of(
                          NodeScript.node(),
                          "oip_client.mjs",
                          "--target",
                          "127.0.0.1:" + server.port(),
                          "--proto-dir",
                          protoDir.toString(),
                          "--rows",
                          new ObjectMapper().writeValueAsString(ROWS)),
                      nodeDir,
                      tmp,
                      TIMEOUT_SECONDS));
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
}
