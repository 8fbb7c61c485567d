/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.client.parquet.ParquetFiles;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Parquet in and out through a real client and service: rows come back complete and in order
 * across many batches, files and row groups, with nulls; failures leave no output file and no
 * Arrow memory behind. (Parquet written by another implementation, Spark's, is read in the
 * examples' Spark test.)
 */
class ParquetFilesTest {
  private static final int BATCHES = 23;
  private static final int ROWS = 1_000;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /**
   * Arrow C++ releases some of what it was handed (a batch it read ahead, its exported schema) on
   * a thread of its own, a few milliseconds after a write has returned; {@code ParquetFiles} waits
   * only for the last batch it handed over. Give the rest that moment before the allocator's leak
   * check: memory still held after 2 s fails the test as a leak.
   */
  @AfterEach
  void letArrowCppReleaseWhatItHolds() throws InterruptedException {
    for (int i = 0; i < 200 && arrow.allocator().getAllocatedMemory() > 0; i++) {
      Thread.sleep(10);
    }
  }
  @TempDir Path dir;

  /** Batch {@code from / ROWS} .. of id (int64), x (float64, every 7th null), s (utf8, every 5th null). */
  private static ArrowReader table(BufferAllocator allocator, int firstBatch, int batches)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (BigIntVector id = new BigIntVector("id", allocator);
        Float8Vector x = new Float8Vector("x", allocator);
        VarCharVector s = new VarCharVector("s", allocator);
        VectorSchemaRoot root = VectorSchemaRoot.of(id, x, s);
        ArrowStreamWriter writer = new ArrowStreamWriter(root, null, bytes)) {
      writer.start();
      for (int b = firstBatch; b < firstBatch + batches; b++) {
        root.allocateNew();
        for (int r = 0; r < ROWS; r++) {
          long row = (long) b * ROWS + r;
          id.setSafe(r, row);
          if (row % 7 != 0) {
            x.setSafe(r, row * 0.5);
          }
          if (row % 5 != 0) {
            s.setSafe(r, ("row " + row).getBytes(StandardCharsets.UTF_8));
          }
        }
        root.setRowCount(ROWS);
        writer.writeBatch();
      }
      writer.end();
    }
    return new ArrowStreamReader(new ByteArrayInputStream(bytes.toByteArray()), allocator);
  }

  private Path parquet(String name, int firstBatch, int batches) throws IOException {
    Path file = dir.resolve(name);
    try (ArrowReader source = table(arrow.allocator(), firstBatch, batches)) {
      ParquetFiles.write(source, file, arrow.allocator());
    }
    return file;
  }

  /** Reads a Parquet file back and checks it holds rows 0..rows-1 of {@link #table} in order. */
  private void checkEcho(Path file, long rows) throws IOException {
    long row = 0;
    try (ArrowReader reader = ParquetFiles.openReader(file, arrow.allocator(), 4_096)) {
      while (reader.loadNextBatch()) {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        BigIntVector id = (BigIntVector) root.getVector("id");
        Float8Vector x = (Float8Vector) root.getVector("x");
        VarCharVector s = (VarCharVector) root.getVector("s");
        for (int r = 0; r < root.getRowCount(); r++, row++) {
          assertThat(id.get(r)).as("row %s", row).isEqualTo(row);
          assertThat(x.isNull(r)).as("x null at %s", row).isEqualTo(row % 7 == 0);
          if (row % 7 != 0) {
            assertThat(x.get(r)).isEqualTo(row * 0.5);
          }
          assertThat(s.getObject(r) == null ? null : s.getObject(r).toString())
              .isEqualTo(row % 5 == 0 ? null : "row " + row);
        }
      }
    }
    assertThat(row).isEqualTo(rows);
  }

  @Test
  void scoreEcho_everyRowBackInOrder_withNulls() throws Exception {
    Path input = parquet("input.parquet", 0, BATCHES);
    Path output = dir.resolve("output.parquet");
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), new TestModels.EchoModel())) {
      // 777-row batches cut across the writer's batches, so any reordering shows.
      long rows =
          ParquetFiles.score(harness.client, ModelRef.of("echo"), input, output, arrow.allocator(), 777);
      assertThat(rows).isEqualTo((long) BATCHES * ROWS);
    }
    checkEcho(output, (long) BATCHES * ROWS);
    assertThat(dir).isDirectoryNotContaining("glob:**/.output.parquet.*");
  }

  @Test
  void directoryInput_readsEveryFileInNameOrder_skippingSparkMarkers() throws Exception {
    Path table = Files.createDirectory(dir.resolve("table"));
    Files.move(parquet("a.parquet", 0, 3), table.resolve("part-00000.parquet"));
    Files.move(parquet("b.parquet", 3, 4), table.resolve("part-00001.parquet"));
    Files.writeString(table.resolve("_SUCCESS"), "");
    Files.writeString(table.resolve(".part-00000.parquet.crc"), "not parquet");
    Path output = dir.resolve("out.parquet");
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), new TestModels.EchoModel())) {
      ParquetFiles.score(harness.client, ModelRef.of("echo"), table, output, arrow.allocator(), 1_500);
    }
    checkEcho(output, 7L * ROWS);
  }

  @Test
  void modelFailsMidStream_throwsItsStatus_andLeavesNoFile() throws Exception {
    Path input = parquet("input.parquet", 0, BATCHES);
    Path output = dir.resolve("never.parquet");
    try (InProcessHarness harness =
        new InProcessHarness(
            arrow.allocator(), new TestModels.FailingModel(5, new IllegalArgumentException("bad row")))) {
      assertThatThrownBy(
              () ->
                  ParquetFiles.score(
                      harness.client, ModelRef.of("failing"), input, output, arrow.allocator(), ROWS))
          .isInstanceOf(PredictException.class)
          .satisfies(e -> assertThat(((PredictException) e).code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessageContaining("bad row");
    }
    assertThat(output).doesNotExist();
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(input);
    }
  }

  @Test
  void missingOrNonParquetInput_failsNamingTheFile() throws Exception {
    assertThatThrownBy(() -> ParquetFiles.openReader(dir.resolve("absent.parquet"), arrow.allocator(), 10))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("absent.parquet");
    Path notParquet = Files.writeString(dir.resolve("text.parquet"), "just text, long enough to have a footer");
    assertThatThrownBy(() -> ParquetFiles.openReader(notParquet, arrow.allocator(), 10).close())
        .hasMessageContaining("text.parquet");
  }

  /** The fields of a Parquet file's schema, and its row count. */
  private Object[] fieldsAndRows(Path file) throws IOException {
    long rows = 0;
    try (ArrowReader reader = ParquetFiles.openReader(file, arrow.allocator(), 64)) {
      List<Field> fields = reader.getVectorSchemaRoot().getSchema().getFields();
      while (reader.loadNextBatch()) {
        rows += reader.getVectorSchemaRoot().getRowCount();
      }
      return new Object[] {fields, rows};
    }
  }

  @Test
  void noResultBatches_writeGivesFileWithEmptySchemaAndNoRows() throws Exception {
    Path output = dir.resolve("empty.parquet");
    Schema emptySchema = new TestModels.DeclaredSumModel().outputSchema();
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), new TestModels.DeclaredSumModel());
        PredictionStream results =
            harness.client.predictStream(ModelRef.of("sum-ab"), Collections.<VectorSchemaRoot>emptyIterator())) {
      assertThat(ParquetFiles.write(results, output, arrow.allocator(), emptySchema)).isZero();
    }
    assertThat(fieldsAndRows(output)).containsExactly(emptySchema.getFields(), 0L);
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(output);
    }
  }

  @Test
  void noResultBatchesAndNoEmptySchema_writeFailsClearly_andLeavesNoFile() throws Exception {
    Path output = dir.resolve("empty.parquet");
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), new TestModels.DeclaredSumModel());
        PredictionStream results =
            harness.client.predictStream(ModelRef.of("sum-ab"), Collections.<VectorSchemaRoot>emptyIterator())) {
      assertThatThrownBy(() -> ParquetFiles.write(results, output, arrow.allocator(), null))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("no rows and no columns to write to " + output);
    }
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void noRows_writeGivesFileWithTheSchema_andScoreOneWithTheModelsOutputSchema() throws Exception {
    // Nullable and not, strings, lists and structs: the one row written and dropped must be valid.
    Schema features = new Schema(List.of(
        TestModels.floatSchema("a", "b").getFields().get(0),
        TestModels.floatSchema("a", "b").getFields().get(1),
        Field.nullable("s", new ArrowType.Utf8()),
        new Field("l", FieldType.notNullable(new ArrowType.List()),
            List.of(Field.nullable("element", new ArrowType.Int(32, true)))), // Parquet's name.
        new Field("st", FieldType.nullable(new ArrowType.Struct()),
            List.of(Field.notNullable("x", new ArrowType.Int(64, true))))));
    Path types = dir.resolve("types.parquet");
    ParquetFiles.write(Collections.<VectorSchemaRoot>emptyIterator(), features, types, arrow.allocator());
    assertThat(fieldsAndRows(types)).containsExactly(features.getFields(), 0L);
    try (ArrowReader empty = table(arrow.allocator(), 0, 0)) {
      Path fromReader = dir.resolve("from-reader.parquet");
      ParquetFiles.write(empty, fromReader, arrow.allocator());
      assertThat(fieldsAndRows(fromReader)).containsExactly(empty.getVectorSchemaRoot().getSchema().getFields(), 0L);
    }
    Path input = dir.resolve("input.parquet");
    ParquetFiles.write(
        Collections.<VectorSchemaRoot>emptyIterator(), TestModels.floatSchema("a", "b"), input, arrow.allocator());
    Path output = dir.resolve("output.parquet");
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), new TestModels.DeclaredSumModel())) {
      assertThat(ParquetFiles.score(harness.client, ModelRef.of("sum-ab"), input, output, arrow.allocator(), 10))
          .isZero();
    }
    assertThat(fieldsAndRows(output))
        .containsExactly(new TestModels.DeclaredSumModel().outputSchema().getFields(), 0L);
  }

  /** Batches 0, 1, ... of {@link #table}, then {@code failure} instead of batch {@code failAt}. */
  private static Iterator<VectorSchemaRoot> failingAt(ArrowReader table, int failAt, RuntimeException failure) {
    return new Iterator<>() {
      private int next;
      private boolean loaded;

      @Override
      public boolean hasNext() {
        if (next == failAt) {
          throw failure;
        }
        try {
          loaded = loaded || table.loadNextBatch();
        } catch (IOException e) {
          throw new AssertionError(e);
        }
        return loaded;
      }

      @Override
      public VectorSchemaRoot next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        loaded = false;
        next++;
        try {
          return table.getVectorSchemaRoot();
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      }
    };
  }

  @Test
  void iteratorFailsAfterOneBatch_throwsItPromptly_leavesNoFileAndNoMemory() throws Exception {
    Path output = dir.resolve("never.parquet");
    RuntimeException failure = new IllegalStateException("source broke");
    long start = System.nanoTime();
    try (ArrowReader table = table(arrow.allocator(), 0, 3)) {
      Schema schema = table.getVectorSchemaRoot().getSchema();
      assertThatThrownBy(() -> ParquetFiles.write(failingAt(table, 1, failure), schema, output, arrow.allocator()))
          .isSameAs(failure);
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void readerFailsAfterOneBatch_throwsItPromptly_leavesNoFileAndNoMemory() throws Exception {
    Path output = dir.resolve("never.parquet");
    IOException failure = new IOException("source broke");
    long start = System.nanoTime();
    try (ArrowReader table = table(arrow.allocator(), 0, 3);
        ArrowReader failing =
            new ArrowReader(arrow.allocator()) {
              private int batches;

              @Override
              public boolean loadNextBatch() throws IOException {
                if (batches++ == 1) {
                  throw failure;
                }
                return table.loadNextBatch();
              }

              @Override
              public VectorSchemaRoot getVectorSchemaRoot() throws IOException {
                return table.getVectorSchemaRoot();
              }

              @Override
              public long bytesRead() {
                return 0;
              }

              @Override
              protected void closeReadSource() {}

              @Override
              protected Schema readSchema() throws IOException {
                return table.getVectorSchemaRoot().getSchema();
              }
            }) {
      assertThatThrownBy(() -> ParquetFiles.write(failing, output, arrow.allocator())).isSameAs(failure);
    }
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }
}
