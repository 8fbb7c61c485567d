/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.score;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.client.parquet.ParquetFiles;
import dev.predictgrpc.examples.serve.Serve;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The serve and score commands against each other over loopback TCP, as the README shows. */
class ScoreCommandTest {
  private static final String IRIS = "/dev/predictgrpc/examples/iris/";

  @TempDir static Path dir;
  private static Serve.Running server;
  private static Path irisCsv;

  @BeforeAll
  static void serve() throws IOException {
    Path model = dir.resolve("iris_gbt.onnx");
    irisCsv = dir.resolve("iris.csv");
    copy("iris_gbt.onnx", model);
    copy("iris.csv", irisCsv);
    server =
        Serve.start(
            new String[] {"--port", "0", "--bind", "127.0.0.1", "iris=" + model},
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  @AfterAll
  static void stop() {
    server.close(); // Closes the server's allocator too, which fails on leaked memory.
  }

  private static void copy(String resource, Path to) throws IOException {
    try (InputStream in = ScoreCommandTest.class.getResourceAsStream(IRIS + resource)) {
      Files.copy(in, to);
    }
  }

  /** Runs score; returns {exit status, stdout, stderr}. */
  private static Object[] score(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        Score.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Object[] {
      status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)
    };
  }

  private String target() {
    return "127.0.0.1:" + server.port();
  }

  @Test
  void csvIn_csvOut_onePredictionPerRowInOrder() throws IOException {
    Path out = dir.resolve("scores.csv");
    Object[] result = score("--target", target(), "--model", "iris", "--input", irisCsv.toString(),
        "--output", out.toString(), "--batch-rows", "16");
    assertThat(result[0]).as(result[2].toString()).isEqualTo(0);
    assertThat((String) result[1]).contains("scored 150 rows");
    List<String> lines = Files.readAllLines(out);
    List<String> input = Files.readAllLines(irisCsv);
    assertThat(lines).hasSize(151);
    assertThat(lines.get(0)).isEqualTo("label,probabilities_0,probabilities_1,probabilities_2");
    for (int r = 1; r <= 150; r++) {
      String species = input.get(r).substring(input.get(r).lastIndexOf(',') + 1).trim();
      assertThat(lines.get(r)).startsWith(species + ",");
    }
  }

  @Test
  void csvIn_arrowOut_thenArrowIn_roundTrips() throws IOException {
    Path scores = dir.resolve("scores.arrow");
    assertThat(score("--target", target(), "--model", "iris", "--input", irisCsv.toString(),
        "--output", scores.toString())[0]).isEqualTo(0);
    try (RootAllocator allocator = new RootAllocator();
        ArrowFileReader reader = new ArrowFileReader(FileChannel.open(scores), allocator)) {
      long rows = 0;
      while (reader.loadNextBatch()) {
        rows += reader.getVectorSchemaRoot().getRowCount();
        assertThat(reader.getVectorSchemaRoot().getVector("label")).isInstanceOf(BigIntVector.class);
      }
      assertThat(rows).isEqualTo(150);
    }
    // Arrow IPC file input: features written from a CSV read.
    Path features = dir.resolve("features.arrow");
    try (RootAllocator allocator = new RootAllocator();
        CsvBatchReader csv = new CsvBatchReader(Files.newBufferedReader(irisCsv), "iris.csv",
            dev.predictgrpc.examples.demo.IrisSchema.FEATURES, allocator, 64);
        FileChannel channel = FileChannel.open(features, java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.WRITE)) {
      VectorSchemaRoot batch = csv.next();
      try (ArrowFileWriter writer = new ArrowFileWriter(batch, null, channel)) {
        writer.start();
        writer.writeBatch();
        while (csv.hasNext()) {
          csv.next();
          writer.writeBatch();
        }
        writer.end();
      }
    }
    Path fromArrow = dir.resolve("from-arrow.csv");
    Object[] result = score("--target", target(), "--model", "iris", "--input", features.toString(),
        "--output", fromArrow.toString());
    assertThat(result[0]).as(result[2].toString()).isEqualTo(0);
    assertThat(Files.readAllLines(fromArrow)).hasSize(151);
  }

  @Test
  void csvIn_parquetOut_byFormatOption_thenParquetIn() throws IOException, InterruptedException {
    Path scores = dir.resolve("scores.out");
    Object[] result = score("--target", target(), "--model", "iris", "--input", irisCsv.toString(),
        "--output", scores.toString(), "--output-format", "parquet", "--batch-rows", "40");
    assertThat(result[0]).as(result[2].toString()).isEqualTo(0);
    List<String> input = Files.readAllLines(irisCsv);
    try (RootAllocator allocator = new RootAllocator();
        ArrowReader reader = ParquetFiles.openReader(scores, allocator, 64)) {
      int row = 1;
      while (reader.loadNextBatch()) {
        BigIntVector label = (BigIntVector) reader.getVectorSchemaRoot().getVector("label");
        for (int i = 0; i < label.getValueCount(); i++, row++) {
          String species = input.get(row).substring(input.get(row).lastIndexOf(',') + 1).trim();
          assertThat(label.get(i)).as("row %d", row).isEqualTo(Long.parseLong(species));
        }
      }
      assertThat(row).isEqualTo(151);
    }
    // The features as Parquet (written by Arrow Dataset here; by Spark in SparkScoringTest).
    Path features = dir.resolve("features.parquet");
    try (RootAllocator allocator = new RootAllocator()) {
      try (CsvBatchReader csv = new CsvBatchReader(Files.newBufferedReader(irisCsv), "iris.csv",
          dev.predictgrpc.examples.demo.IrisSchema.FEATURES, allocator, 64)) {
        ParquetFiles.write(
            csv, dev.predictgrpc.examples.demo.IrisSchema.FEATURES, features, allocator);
      }
      // Arrow C++ drops what it was handed on its own thread, a moment after the write returns.
      for (int i = 0; i < 200 && allocator.getAllocatedMemory() > 0; i++) {
        Thread.sleep(10);
      }
    }
    Path fromParquet = dir.resolve("from-parquet.csv");
    result = score("--target", target(), "--model", "iris", "--input", features.toString(),
        "--output", fromParquet.toString());
    assertThat(result[0]).as(result[2].toString()).isEqualTo(0);
    assertThat(Files.readAllLines(fromParquet)).hasSize(151);
  }

  @Test
  void headerOnlyCsv_parquetOut_isAFileWithTheOutputSchemaAndNoRows() throws IOException {
    Path headerOnly = dir.resolve("header-only.csv");
    Files.writeString(headerOnly, "sepal_length,sepal_width,petal_length,petal_width\n");
    Path out = dir.resolve("empty-scores.parquet");
    Object[] result = score("--target", target(), "--model", "iris", "--input", headerOnly.toString(),
        "--output", out.toString());
    assertThat(result[0]).as(result[2].toString()).isEqualTo(0);
    assertThat((String) result[1]).contains("scored 0 rows");
    try (RootAllocator allocator = new RootAllocator();
        ArrowReader reader = ParquetFiles.openReader(out, allocator, 64)) {
      assertThat(reader.getVectorSchemaRoot().getSchema().getFields())
          .extracting(f -> f.getName())
          .startsWith("label", "probabilities_0");
      long rows = 0;
      while (reader.loadNextBatch()) {
        rows += reader.getVectorSchemaRoot().getRowCount();
      }
      assertThat(rows).isZero();
    }
  }

  @Test
  void badInputs_failWithOneLineErrorAndNoOutputFile() throws IOException {
    Path out = dir.resolve("never.csv");
    Path missingColumn = dir.resolve("missing.csv");
    Files.writeString(missingColumn, "sepal_length,sepal_width\n1,2\n");
    Path notANumber = dir.resolve("nan.csv");
    Files.writeString(notANumber,
        "sepal_length,sepal_width,petal_length,petal_width\n" + "1,2,3,4\n".repeat(100) + "1,x,3,4\n");
    Object[][] cases = {
      {score("--target", target(), "--model", "iris", "--input", missingColumn.toString(), "--output", out.toString()), "no column 'petal_length'"},
      {score("--target", target(), "--model", "iris", "--input", notANumber.toString(), "--output", out.toString(), "--batch-rows", "10"), "line 102, column 'sepal_width': 'x'"},
      {score("--target", target(), "--model", "nope", "--input", irisCsv.toString(), "--output", out.toString()), "model 'nope' is not served here"},
      {score("--target", "127.0.0.1:1", "--model", "iris", "--input", irisCsv.toString(), "--output", out.toString()), "cannot reach"},
      {score("--target", target(), "--model", "iris", "--input", dir.resolve("absent.csv").toString(), "--output", out.toString()), "absent.csv"},
      {score("--target", target(), "--model", "iris", "--input", irisCsv.toString(), "--input-format", "xml", "--output", out.toString()), "--input-format xml is not one of"},
      {score("--target", target(), "--model", "iris", "--input", irisCsv.toString(), "--output", dir.resolve("never.json").toString()), "must end in .arrow, .csv, .parquet"},
      {score("--target", target(), "--model", "iris", "--input", dir.resolve("absent.parquet").toString(), "--output", out.toString()), "absent.parquet"},
    };
    for (Object[] c : cases) {
      Object[] result = (Object[]) c[0];
      assertThat(result[0]).isEqualTo(1);
      String err = ((String) result[2]).strip();
      assertThat(err).contains((String) c[1]);
      assertThat(err.lines().filter(l -> l.startsWith("error:")).count()).isEqualTo(1);
      assertThat(err).doesNotContain("\tat ");
      assertThat(out).doesNotExist();
      assertThat(dir.resolve("never.csv.partial")).doesNotExist();
    }
  }
}
