/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import dev.predictgrpc.testing.NodeScript;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs an independent Node.js client ({@code src/test/node/client.mjs}: @grpc/grpc-js,
 * @grpc/proto-loader, apache-arrow, written from the comments of {@code predict.proto} alone)
 * against a real {@link PredictServer} on loopback TCP.
 *
 * <p>The script checks every value itself (row counts per batch, score == row sum, echo returns
 * identical values, schemas, status codes) and exits non-zero on the first mismatch; on success it
 * prints a JSON summary that this test compares with its own computation of the same table.
 *
 * <p>The Maven build installs the npm packages ({@code npm ci}, from the committed lock file) at
 * {@code process-test-resources}. Needs {@code node} (18+) on the PATH, or {@code
 * -Dnode.executable=/path/to/node}; without it this test fails rather than skips.
 */
class NodeClientInteropTest {
  /** Rows of each input batch: multi-batch, ~3 MiB of IPC, so batches span many 64 KiB chunks. */
  private static final int[] ROWS = {50_000, 49_999, 50_000, 1, 50_000};

  private static final int COLUMNS = 4;
  private static final int MAX_CHUNK = 64 * 1024;
  private static final long TIMEOUT_SECONDS = 120;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @TempDir Path tmp;

  /** The same float32 value client.mjs puts at (batch, row, column). */
  static float value(int batch, int row, int column) {
    long k = ((batch * 1_000_003L + row * 31L + column * 7L) % 20011) - 10005;
    return (float) (k / 37.0);
  }

  /** The row-sum model's score: a float32 sum from 0, column by column. */
  static float rowSum(int batch, int row, int columns) {
    float sum = 0f;
    for (int c = 0; c < columns; c++) {
      sum += value(batch, row, c);
    }
    return sum;
  }

  @Test
  void nodeClient_streamsUnaryMetadataAndErrors_againstJavaServer() throws Exception {
    Path nodeDir = moduleDir().resolve("src/test/node");
    Path protoDir = moduleDir().resolve("../predict-api/src/main/proto").normalize();
    assertThat(protoDir.resolve("predict/v1/predict.proto")).exists();
    NodeScript.requirePackages(
        nodeDir, List.of("@grpc/grpc-js", "@grpc/proto-loader", "apache-arrow"));
    String node = NodeScript.node();

    JsonNode summary;
    try (PredictServer server =
        PredictServer.builder(arrow.allocator())
            .bindAddress("127.0.0.1")
            .addModel(new TestModels.RowSumModel("9"))
            .addModel(new TestModels.RowSumModel("10"))
            .addModel(new TestModels.EchoModel())
            .addModel(new TestModels.DeclaredSumModel())
            .build()
            .start()) {
      List<String> command =
          List.of(
              node,
              "client.mjs",
              "--target",
              "127.0.0.1:" + server.port(),
              "--proto-dir",
              protoDir.toString(),
              "--rows",
              Arrays.stream(ROWS).mapToObj(Integer::toString).collect(Collectors.joining(",")),
              "--columns",
              Integer.toString(COLUMNS),
              "--max-chunk",
              Integer.toString(MAX_CHUNK));
      summary =
          new ObjectMapper().readTree(NodeScript.run(command, nodeDir, tmp, TIMEOUT_SECONDS));
    }

    long totalRows = Arrays.stream(ROWS).asLongStream().sum();
    double expectedScoreSum = 0;
    double expectedValueSum = 0;
    for (int b = 0; b < ROWS.length; b++) {
      for (int r = 0; r < ROWS[b]; r++) {
        expectedScoreSum += rowSum(b, r, COLUMNS);
        for (int c = 0; c < COLUMNS; c++) {
          expectedValueSum += value(b, r, c);
        }
      }
    }

    JsonNode input = summary.get("input");
    assertThat(input.get("batches").asInt()).isEqualTo(ROWS.length);
    assertThat(input.get("rows").asLong()).isEqualTo(totalRows);
    // Batches span chunks: far more chunks than batches.
    assertThat(input.get("chunks").asInt()).isGreaterThan(ROWS.length * 8);

    JsonNode stream = summary.get("stream");
    assertThat(stream.get("model").asText()).isEqualTo("row-sum@10");
    assertThat(stream.get("batches").asInt()).isEqualTo(ROWS.length);
    assertThat(stream.get("rows").asLong()).isEqualTo(totalRows);
    assertThat(stream.get("checksum").asDouble()).isEqualTo(expectedScoreSum);
    // The server's default output chunk limit is 1 MiB.
    assertThat(stream.get("largestResponseChunk").asInt()).isBetween(1, 1 << 20);

    JsonNode echo = summary.get("echo");
    assertThat(echo.get("batches").asInt()).isEqualTo(ROWS.length);
    assertThat(echo.get("rows").asLong()).isEqualTo(totalRows);
    assertThat(echo.get("checksum").asDouble()).isEqualTo(expectedValueSum);

    // No input: no batch; the declared output schema, or no fields when the model declares none.
    assertThat(summary.get("emptyStream").toString())
        .contains("\"undeclared\":{\"version\":\"9\",\"fields\":[]")
        .contains("\"declared\":{\"version\":\"1\",\"fields\":[\"score\"]");

    JsonNode unary = summary.get("unary");
    assertThat(unary.get("model").asText()).isEqualTo("row-sum@10");
    assertThat(unary.get("batches").asInt()).isEqualTo(2);
    List<Float> scores = new ArrayList<>();
    unary.get("scores").forEach(s -> scores.add((float) s.asDouble()));
    assertThat(scores)
        .containsExactly(
            rowSum(0, 0, 2), rowSum(0, 1, 2), rowSum(0, 2, 2), rowSum(1, 0, 2), rowSum(1, 1, 2));

    assertThat(summary.get("models").toString())
        .isEqualTo(
            "[{\"name\":\"echo\",\"versions\":[\"1\"],\"description\":\"\"},"
                + "{\"name\":\"row-sum\",\"versions\":[\"9\",\"10\"],"
                + "\"description\":\"sums float32 columns\"},"
                + "{\"name\":\"sum-ab\",\"versions\":[\"1\"],"
                + "\"description\":\"sums float32 columns\"}]");

    JsonNode metadata = summary.get("metadata");
    assertThat(metadata.get("model").asText()).isEqualTo("sum-ab@1");
    assertThat(metadata.get("input").toString())
        .isEqualTo(
            "[{\"name\":\"a\",\"type\":\"FloatingPoint(SINGLE)\",\"nullable\":false},"
                + "{\"name\":\"b\",\"type\":\"FloatingPoint(SINGLE)\",\"nullable\":false}]");
    assertThat(metadata.get("output").toString())
        .isEqualTo("[{\"name\":\"score\",\"type\":\"FloatingPoint(SINGLE)\",\"nullable\":true}]");

    JsonNode errors = summary.get("errors");
    assertThat(errors.get("predictUnknownModel").get("code").asInt()).isEqualTo(5); // NOT_FOUND
    assertThat(errors.get("predictUnknownModel").get("message").asText())
        .contains("no-such-model");
    assertThat(errors.get("streamUnknownModel").get("code").asInt()).isEqualTo(5);
    assertThat(errors.get("metadataUnknownVersion").get("code").asInt()).isEqualTo(5);
    assertThat(errors.get("streamChunkFirst").get("code").asInt()).isEqualTo(3); // INVALID_ARG.
    assertThat(errors.get("streamCutInsideMessage").get("code").asInt()).isEqualTo(3);
    assertThat(errors.get("wrongSchema").get("code").asInt()).isEqualTo(3);
  }

  private static Path moduleDir() {
    // Surefire runs tests in the module directory and sets basedir to it.
    return Path.of(System.getProperty("basedir", "")).toAbsolutePath();
  }
}
