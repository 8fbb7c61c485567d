/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * The column filling behind {@link Batches.Builder} and {@link Batches.Reusable}: fills one batch
 * at a time from arrays, creating the vectors for the first batch and refilling the same vectors,
 * in place, for every later one. A vector is reallocated only when a batch has more rows than it
 * can hold, so a stream of equal-sized batches allocates once. Not thread-safe.
 *
 * <p>The vectors belong to this object until {@link #close()}, or until its owner hands the root
 * from {@link #finishBatch()} over to a caller (the builder does; the reusable batch does not).
 */
final class BatchFill {
  private final BufferAllocator allocator;
  private final List<FieldVector> vectors = new ArrayList<>();
  private @Nullable VectorSchemaRoot root;

  // The batch being filled.
  private int filled;
  private int rows = -1;
  private boolean explicitRows;

  BatchFill(BufferAllocator allocator) {
    this.allocator = requireNonNull(allocator, "allocator");
  }

  /** The batch being filled has {@code n} rows, taken from the start of each array. */
  void rows(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("rows: " + n + " (expected: >= 0)");
    }
    if (filled > 0) {
      throw new IllegalStateException("rows(n) must come before the batch's first column");
    }
    rows = n;
    explicitRows = true;
  }

  void float32(String name, float[] values, boolean @Nullable [] isNull) {
    Float4Vector v = begin(name, values.length, isNull, Float4Vector.class, Float4Vector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      if (isNull != null && isNull[i]) {
        v.setNull(i);
      } else {
        v.set(i, values[i]);
      }
    }
    end(v, n);
  }

  void float32(String name, @Nullable Float[] values) {
    Float4Vector v = begin(name, values.length, null, Float4Vector.class, Float4Vector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      Float value = values[i];
      if (value == null) {
        v.setNull(i);
      } else {
        v.set(i, value);
      }
    }
    end(v, n);
  }

  void float64(String name, double[] values, boolean @Nullable [] isNull) {
    Float8Vector v = begin(name, values.length, isNull, Float8Vector.class, Float8Vector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      if (isNull != null && isNull[i]) {
        v.setNull(i);
      } else {
        v.set(i, values[i]);
      }
    }
    end(v, n);
  }

  void int32(String name, int[] values, boolean @Nullable [] isNull) {
    IntVector v = begin(name, values.length, isNull, IntVector.class, IntVector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      if (isNull != null && isNull[i]) {
        v.setNull(i);
      } else {
        v.set(i, values[i]);
      }
    }
    end(v, n);
  }

  void int64(String name, long[] values, boolean @Nullable [] isNull) {
    BigIntVector v = begin(name, values.length, isNull, BigIntVector.class, BigIntVector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      if (isNull != null && isNull[i]) {
        v.setNull(i);
      } else {
        v.set(i, values[i]);
      }
    }
    end(v, n);
  }

  void bool(String name, boolean[] values) {
    BitVector v = begin(name, values.length, null, BitVector.class, BitVector::new);
    int n = rows;
    for (int i = 0; i < n; i++) {
      v.set(i, values[i] ? 1 : 0);
    }
    end(v, n);
  }

  void utf8(String name, @Nullable String[] values) {
    VarCharVector v;
    try {
      batchRows(name, values.length);
      v = column(name, VarCharVector.class, c -> new VarCharVector(c, allocator));
    } catch (RuntimeException e) {
      abandonBatch();
      throw e;
    }
    int n = rows;
    if (v.getValueCapacity() == 0) {
      v.allocateNew(n);
    } else {
      v.reset(); // Keeps the buffers: setSafe grows them only past the largest batch yet.
    }
    for (int i = 0; i < n; i++) {
      String value = values[i];
      if (value == null) {
        v.setNull(i);
      } else {
        v.setSafe(i, value.getBytes(StandardCharsets.UTF_8));
      }
    }
    end(v, n);
  }

  /**
   * Ends the batch being filled and returns the root holding it: a new root for the first batch,
   * the same root, refilled, for every later one.
   *
   * @throws IllegalStateException if no column was filled, or fewer than the first batch had
   */
  VectorSchemaRoot finishBatch() {
    if (vectors.isEmpty()) {
      throw new IllegalStateException("a batch needs at least one column");
    }
    if (filled != vectors.size()) {
      List<String> missing = new ArrayList<>();
      for (FieldVector vector : vectors.subList(filled, vectors.size())) {
        missing.add(vector.getName());
      }
      abandonBatch();
      throw new IllegalStateException(
          "the batch lacks column(s) " + missing + "; every batch must fill the first batch's "
              + "columns, in the same order");
    }
    int batchRows = rows;
    abandonBatch();
    if (root == null) {
      root = new VectorSchemaRoot(vectors);
    }
    root.setRowCount(batchRows);
    return root;
  }

  /** Closes every vector. */
  void close() {
    vectors.forEach(FieldVector::close);
    vectors.clear();
    root = null;
  }

  /**
   * Checks the next fixed-width column and returns its vector with room for the batch's rows;
   * after an error the batch is abandoned. The caller sets or nulls every row below {@code rows},
   * so nothing of a previous batch survives, then calls {@link #end}. The values are set in the
   * caller's own loop, one per type, so that the loop body is Arrow's {@code set} and nothing else.
   */
  private <V extends BaseFixedWidthVector> V begin(
      String name,
      int length,
      boolean @Nullable [] isNull,
      Class<V> type,
      BiFunction<String, BufferAllocator, V> create) {
    try {
      if (isNull != null && isNull.length != length) {
        throw new IllegalArgumentException(
            "column '" + name + "': isNull has " + isNull.length + " entries for " + length
                + " values");
      }
      int n = batchRows(name, length);
      V vector = column(name, type, c -> create.apply(c, allocator));
      if (vector.getValueCapacity() < n || vector.getValueCapacity() == 0) {
        vector.allocateNew(n); // Only for the first batch and for a batch larger than any before.
      }
      return vector;
    } catch (RuntimeException e) {
      abandonBatch();
      throw e;
    }
  }

  private void end(FieldVector vector, int n) {
    vector.setValueCount(n);
    filled++;
  }

  /** The row count of the batch being filled, checking a column's {@code length} against it. */
  private int batchRows(String name, int length) {
    requireNonNull(name, "name");
    if (explicitRows) {
      if (length < rows) {
        throw new IllegalArgumentException(
            "column '" + name + "' has " + length + " values (expected: at least " + rows + ")");
      }
    } else if (rows < 0) {
      rows = length;
    } else if (length != rows) {
      throw new IllegalArgumentException(
          "column '" + name + "' has " + length + " rows (expected: " + rows + ")");
    }
    return rows;
  }

  /** The vector for the next column: new in the first batch, the same one in every later batch. */
  private <V extends FieldVector> V column(String name, Class<V> type, Function<String, V> create) {
    if (root == null && filled == vectors.size()) {
      for (FieldVector existing : vectors) {
        if (existing.getName().equals(name)) {
          throw new IllegalArgumentException("column '" + name + "' was added twice");
        }
      }
      V vector = create.apply(name);
      vectors.add(vector);
      return vector;
    }
    if (filled >= vectors.size()) {
      throw new IllegalArgumentException(
          "column '" + name + "' is not one of the first batch's columns " + names()
              + "; a reused batch keeps its columns");
    }
    FieldVector expected = vectors.get(filled);
    if (expected.getName().equals(name) && !type.isInstance(expected)) {
      throw new IllegalArgumentException(
          "column '" + name + "' was " + expected.getField().getType() + " in the first batch; "
              + "a reused batch's columns keep their types");
    }
    if (!expected.getName().equals(name)) {
      throw new IllegalArgumentException(
          "column " + filled + " of the first batch is '" + expected.getName() + "', not '" + name
              + "'; every batch must fill the same columns in the same order " + names());
    }
    return type.cast(expected);
  }

  private void abandonBatch() {
    filled = 0;
    rows = -1;
    explicitRows = false;
  }

  private List<String> names() {
    List<String> names = new ArrayList<>(vectors.size());
    vectors.forEach(v -> names.add(v.getName()));
    return names;
  }
}
