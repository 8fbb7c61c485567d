/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The benchmark's input: one batch of random float32 features, generated once and sent over and
 * over, so that every transport measures moving and scoring data, not making it. The same values
 * are kept as an Arrow batch (predict-grpc, Flight), as heap column arrays (REST/JSON) and as
 * row-major little-endian bytes (the bare gRPC stream).
 */
final class BenchTable implements AutoCloseable {
  static final int COLUMNS = 16;
  static final int BYTES_PER_ROW = COLUMNS * Float.BYTES;

  /** Rows per bare-gRPC message: 16,384 rows x 64 bytes = 1 MiB. */
  static final int RAW_MESSAGE_ROWS = (1 << 20) / BYTES_PER_ROW;

  static final Schema INPUT_SCHEMA;
  static final Schema SCORE_SCHEMA =
      new Schema(List.of(new Field("score", FieldType.notNullable(float32()), null)));

  static {
    List<Field> fields = new ArrayList<>();
    for (int c = 0; c < COLUMNS; c++) {
      fields.add(new Field("f" + c, FieldType.notNullable(float32()), null));
    }
    INPUT_SCHEMA = new Schema(fields);
  }

  private final int batchRows;
  private final VectorSchemaRoot batch;
  private final float[][] columns;
  private final byte[] rawMessage;
  private final float[] rowSums;

  BenchTable(BufferAllocator allocator, int batchRows) {
    this.batchRows = batchRows;
    columns = new float[COLUMNS][batchRows];
    for (int c = 0; c < COLUMNS; c++) {
      // One generator per column, so row r holds the same values whatever batchRows is.
      SplittableRandom random = new SplittableRandom(42 + c);
      for (int r = 0; r < batchRows; r++) {
        columns[c][r] = (float) random.nextDouble();
      }
    }
    rowSums = new float[batchRows];
    for (float[] column : columns) {
      for (int r = 0; r < batchRows; r++) {
        rowSums[r] += column[r];
      }
    }
    batch = VectorSchemaRoot.create(INPUT_SCHEMA, allocator);
    List<FieldVector> vectors = batch.getFieldVectors();
    for (int c = 0; c < COLUMNS; c++) {
      Float4Vector vector = (Float4Vector) vectors.get(c);
      vector.allocateNew(batchRows);
      for (int r = 0; r < batchRows; r++) {
        vector.set(r, columns[c][r]);
      }
    }
    batch.setRowCount(batchRows);
    // The bare stream's messages hold rows RAW_MESSAGE_ROWS at a time; they reuse the first rows.
    int rawRows = Math.min(RAW_MESSAGE_ROWS, batchRows);
    rawMessage = new byte[rawRows * BYTES_PER_ROW];
    FloatBuffer raw = ByteBuffer.wrap(rawMessage).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    for (int r = 0; r < rawRows; r++) {
      for (int c = 0; c < COLUMNS; c++) {
        raw.put(columns[c][r]);
      }
    }
  }

  static ArrowType.FloatingPoint float32() {
    return new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
  }

  int batchRows() {
    return batchRows;
  }

  /** Input bytes of {@code rows} rows (the figure all MB/s are computed from). */
  static long inputBytes(long rows) {
    return rows * BYTES_PER_ROW;
  }

  /** The expected score (row sum, added in column order) of row {@code r} of every batch. */
  float rowSum(int r) {
    return rowSums[r];
  }

  /** The features as heap column arrays, {@code columns[c][r]}; shared, do not modify. */
  float[][] columns() {
    return columns;
  }

  /** One bare-gRPC message: {@link #RAW_MESSAGE_ROWS} rows, row-major; shared, do not modify. */
  byte[] rawMessage() {
    return rawMessage;
  }

  /**
   * The one reused batch. Borrowed: it stays owned by this table. {@link #batches} changes its row
   * count for the last, short batch and {@link #restore} sets it back.
   */
  VectorSchemaRoot batch() {
    return batch;
  }

  /** A new one-row batch holding row 0. Ownership of the returned root passes to the caller. */
  VectorSchemaRoot firstRow(BufferAllocator allocator) {
    return firstRows(allocator, 1);
  }

  /**
   * A new batch holding rows 0 to {@code rows - 1}. Ownership of the returned root passes to the
   * caller.
   */
  VectorSchemaRoot firstRows(BufferAllocator allocator, int rows) {
    VectorSchemaRoot batch = VectorSchemaRoot.create(INPUT_SCHEMA, allocator);
    List<FieldVector> vectors = batch.getFieldVectors();
    for (int c = 0; c < COLUMNS; c++) {
      Float4Vector vector = (Float4Vector) vectors.get(c);
      vector.allocateNew(rows);
      for (int r = 0; r < rows; r++) {
        vector.set(r, columns[c][r]);
      }
    }
    batch.setRowCount(rows);
    return batch;
  }

  /** Sets the batch back to its full row count after a run that ended with a short batch. */
  void restore() {
    batch.setRowCount(batchRows);
  }

  /** Row counts of the batches that make up a table of {@code rows} rows. */
  int[] batchSizes(long rows) {
    int full = (int) (rows / batchRows);
    int tail = (int) (rows % batchRows);
    int[] sizes = new int[full + (tail > 0 ? 1 : 0)];
    Arrays.fill(sizes, 0, full, batchRows);
    if (tail > 0) {
      sizes[full] = tail;
    }
    return sizes;
  }

  /**
   * A table of {@code rows} rows as the same batch returned again and again (the last one cut
   * short). Each batch is borrowed until the next call to {@code next()}.
   */
  Iterator<VectorSchemaRoot> batches(long rows) {
    int[] sizes = batchSizes(rows);
    return new Iterator<>() {
      private int i;

      @Override
      public boolean hasNext() {
        return i < sizes.length;
      }

      @Override
      public VectorSchemaRoot next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int size = sizes[i++];
        if (batch.getRowCount() != size) {
          batch.setRowCount(size);
        }
        return batch;
      }
    };
  }

  /**
   * Throws unless {@code output} is what {@code model} must answer for a batch of this table: the
   * same features ({@code echo}) or the row sums ({@code score}); spot-checks the first and last
   * row. The caller retains ownership of {@code output}.
   */
  void check(String model, VectorSchemaRoot output) {
    int rows = output.getRowCount();
    if (rows <= 0 || rows > batchRows) {
      throw new IllegalStateException(model + ": a result batch of " + rows + " rows");
    }
    if (model.equals("echo")) {
      if (output.getFieldVectors().size() != COLUMNS) {
        throw new IllegalStateException("echo: " + output.getSchema() + " came back");
      }
      Float4Vector last = (Float4Vector) output.getVector(COLUMNS - 1);
      checkValue(model, rows - 1, last.get(rows - 1), columns[COLUMNS - 1][rows - 1]);
    } else {
      Float4Vector score = (Float4Vector) output.getVector(0);
      checkScore(0, score.get(0));
      checkScore(rows - 1, score.get(rows - 1));
    }
  }

  /** Throws unless {@code scores} holds the scores of the first {@code rows} rows. */
  void checkScores(Float4Vector scores, int rows) {
    if (scores.getValueCount() != rows) {
      throw new IllegalStateException(
          "score: " + scores.getValueCount() + " scores came back for " + rows + " rows");
    }
    checkScore(0, scores.get(0));
    checkScore(rows - 1, scores.get(rows - 1));
  }

  /** Throws unless {@code value} is the score of row {@code row} of a batch. */
  void checkScore(int row, float value) {
    checkValue("score", row, value, rowSums[row]);
  }

  /** Throws unless {@code value} is feature {@code column} of row {@code row} of a batch. */
  void checkFeature(int column, int row, float value) {
    checkValue("echo", row, value, columns[column][row]);
  }

  private static void checkValue(String model, int row, float actual, float expected) {
    if (Float.floatToIntBits(actual) != Float.floatToIntBits(expected)) {
      throw new IllegalStateException(
          model + ": row " + row + " came back as " + actual + " (expected: " + expected + ")");
    }
  }

  @Override
  public void close() {
    batch.close();
  }
}
