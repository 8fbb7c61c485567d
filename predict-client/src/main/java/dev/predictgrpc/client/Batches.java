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
import java.util.function.ObjIntConsumer;
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
 * Builds small record batches from plain Java arrays, because Arrow's own API is verbose for a
 * few rows.
 *
 * <pre>{@code
 * try (VectorSchemaRoot batch = Batches.builder(allocator)
 *     .float32("sepal_length", new float[] {5.1f, 6.7f})
 *     .utf8("id", new String[] {"a", "b"})
 *     .build()) { ... }
 * }</pre>
 *
 * <p>Columns must all have the same length. A null element of a {@code String[]} becomes a null
 * value. Not thread-safe; each builder builds one batch.
 *
 * @since 0.1
 */
public final class Batches {
  private Batches() {}

  /** Starts a batch whose vectors are allocated from {@code allocator}. */
  public static Builder builder(BufferAllocator allocator) {
    return new Builder(requireNonNull(allocator, "allocator"));
  }

  /**
   * Builds one batch column by column. Vectors are allocated as columns are added; if {@link
   * #build()} is never called, {@link #close()} releases them.
   *
   * @since 0.1
   */
  public static final class Builder implements AutoCloseable {
    private final BufferAllocator allocator;
    private final List<FieldVector> vectors = new ArrayList<>();
    private int rows = -1;
    private boolean built;

    private Builder(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    /** Adds a float32 column. */
    public Builder float32(String name, float[] values) {
      return fixed(name, values.length, Float4Vector::new, (v, i) -> v.set(i, values[i]));
    }

    /** Adds a float64 column. */
    public Builder float64(String name, double[] values) {
      return fixed(name, values.length, Float8Vector::new, (v, i) -> v.set(i, values[i]));
    }

    /** Adds an int32 column. */
    public Builder int32(String name, int[] values) {
      return fixed(name, values.length, IntVector::new, (v, i) -> v.set(i, values[i]));
    }

    /** Adds an int64 column. */
    public Builder int64(String name, long[] values) {
      return fixed(name, values.length, BigIntVector::new, (v, i) -> v.set(i, values[i]));
    }

    /** Adds a boolean column. */
    public Builder bool(String name, boolean[] values) {
      return fixed(name, values.length, BitVector::new, (v, i) -> v.set(i, values[i] ? 1 : 0));
    }

    /** Adds a UTF-8 string column; null elements are null values. */
    public Builder utf8(String name, @Nullable String[] values) {
      return add(
          name,
          values.length,
          n -> {
            VarCharVector v = new VarCharVector(n, allocator);
            v.allocateNew(values.length);
            for (int i = 0; i < values.length; i++) {
              if (values[i] == null) {
                v.setNull(i);
              } else {
                v.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
              }
            }
            return v;
          });
    }

    /**
     * Creates the batch. Ownership of the returned root passes to the caller, who must close it.
     *
     * @throws IllegalStateException if no column was added or the batch was already built
     */
    public VectorSchemaRoot build() {
      if (built) {
        throw new IllegalStateException("the batch was already built");
      }
      if (vectors.isEmpty()) {
        throw new IllegalStateException("a batch needs at least one column");
      }
      built = true;
      return new VectorSchemaRoot(vectors);
    }

    /** Releases the columns if {@link #build()} was never called. */
    @Override
    public void close() {
      if (!built) {
        vectors.forEach(FieldVector::close);
        vectors.clear();
      }
    }

    /** Adds a fixed-width column of {@code length} values, each set by {@code setter}. */
    private <V extends BaseFixedWidthVector> Builder fixed(
        String name,
        int length,
        BiFunction<String, BufferAllocator, V> create,
        ObjIntConsumer<V> setter) {
      return add(
          name,
          length,
          n -> {
            V vector = create.apply(n, allocator);
            vector.allocateNew(length);
            for (int i = 0; i < length; i++) {
              setter.accept(vector, i);
            }
            return vector;
          });
    }

    private Builder add(String name, int length, Function<String, FieldVector> create) {
      requireNonNull(name, "name");
      if (built) {
        throw new IllegalStateException("the batch was already built");
      }
      if (rows >= 0 && length != rows) {
        throw new IllegalArgumentException(
            "column '" + name + "' has " + length + " rows (expected: " + rows + ")");
      }
      FieldVector vector = create.apply(name);
      vector.setValueCount(length);
      vectors.add(vector);
      rows = length;
      return this;
    }
  }
}
