/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * Builds record batches from plain Java arrays, because Arrow's own API is verbose for a few rows:
 * one batch with {@link #builder}, or a long stream of batches refilled in place with {@link
 * #reusable}.
 *
 * <pre>{@code
 * try (VectorSchemaRoot batch = Batches.builder(allocator)
 *     .float32("sepal_length", new float[] {5.1f, 6.7f})
 *     .float32("sepal_width", new Float[] {3.5f, null})       // a null value
 *     .utf8("id", new String[] {"a", "b"})
 *     .build()) { ... }
 * }</pre>
 *
 * <p><b>Nulls.</b> A null element of a {@code String[]} or {@code Float[]} is a null value; the
 * numeric columns also take a {@code boolean[] isNull} mask beside a primitive array, where {@code
 * isNull[i]} makes row {@code i} null (its value is then ignored). Every column is nullable in the
 * batch's schema, which a model's declared non-nullable column accepts as long as no value is null.
 *
 * <p>Columns must all have the same length, unless {@link Reusable#rows(int)} says how many of
 * each array's values to take. Not thread-safe.
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
   * Starts a batch to fill again and again, for streaming: the first batch creates its vectors
   * from {@code allocator}, and every later one is written into the same vectors and the same
   * root.
   *
   * @since 0.1
   */
  public static Reusable reusable(BufferAllocator allocator) {
    return new Reusable(requireNonNull(allocator, "allocator"));
  }

  /**
   * Builds one batch column by column. Vectors are allocated as columns are added; if {@link
   * #build()} is never called, {@link #close()} releases them.
   *
   * @since 0.1
   */
  public static final class Builder implements AutoCloseable {
    private final BatchFill fill;
    private boolean built;

    private Builder(BufferAllocator allocator) {
      this.fill = new BatchFill(allocator);
    }

    /** Adds a float32 column. */
    public Builder float32(String name, float[] values) {
      return float32(name, values, null);
    }

    /**
     * Adds a nullable float32 column: {@code isNull[i]} makes row {@code i} null.
     *
     * @throws IllegalArgumentException if {@code isNull} and {@code values} differ in length
     * @since 0.1
     */
    public Builder float32(String name, float[] values, boolean @Nullable [] isNull) {
      checkNotBuilt();
      fill.float32(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /**
     * Adds a nullable float32 column; null elements are null values.
     *
     * @since 0.1
     */
    public Builder float32(String name, @Nullable Float[] values) {
      checkNotBuilt();
      fill.float32(name, requireNonNull(values, "values"));
      return this;
    }

    /** Adds a float64 column. */
    public Builder float64(String name, double[] values) {
      return float64(name, values, null);
    }

    /**
     * Adds a nullable float64 column: {@code isNull[i]} makes row {@code i} null.
     *
     * @since 0.1
     */
    public Builder float64(String name, double[] values, boolean @Nullable [] isNull) {
      checkNotBuilt();
      fill.float64(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Adds an int32 column. */
    public Builder int32(String name, int[] values) {
      return int32(name, values, null);
    }

    /**
     * Adds a nullable int32 column: {@code isNull[i]} makes row {@code i} null.
     *
     * @since 0.1
     */
    public Builder int32(String name, int[] values, boolean @Nullable [] isNull) {
      checkNotBuilt();
      fill.int32(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Adds an int64 column. */
    public Builder int64(String name, long[] values) {
      return int64(name, values, null);
    }

    /**
     * Adds a nullable int64 column: {@code isNull[i]} makes row {@code i} null.
     *
     * @since 0.1
     */
    public Builder int64(String name, long[] values, boolean @Nullable [] isNull) {
      checkNotBuilt();
      fill.int64(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Adds a boolean column. */
    public Builder bool(String name, boolean[] values) {
      checkNotBuilt();
      fill.bool(name, requireNonNull(values, "values"));
      return this;
    }

    /** Adds a UTF-8 string column; null elements are null values. */
    public Builder utf8(String name, @Nullable String[] values) {
      checkNotBuilt();
      fill.utf8(name, requireNonNull(values, "values"));
      return this;
    }

    /**
     * Creates the batch. Ownership of the returned root passes to the caller, who must close it.
     *
     * @throws IllegalStateException if no column was added or the batch was already built
     */
    public VectorSchemaRoot build() {
      checkNotBuilt();
      VectorSchemaRoot root = fill.finishBatch();
      built = true;
      return root;
    }

    /** Releases the columns if {@link #build()} was never called. */
    @Override
    public void close() {
      if (!built) {
        fill.close();
      }
    }

    private void checkNotBuilt() {
      if (built) {
        throw new IllegalStateException("the batch was already built");
      }
    }
  }

  /**
   * One batch refilled in place for each batch of a stream, so that producing a long stream from
   * arrays allocates Arrow memory once, not per batch: vectors grow only when a batch has more rows
   * (or, for strings, more bytes) than any before it.
   *
   * <pre>{@code
   * float[] a = new float[65_536], b = new float[65_536];    // refilled by the source
   * try (Batches.Reusable batch = Batches.reusable(allocator);
   *     PredictCall call = client.openStream(ModelRef.of("row-sum"))) {
   *   // On a writer thread; read call.results() on another.
   *   for (int n; (n = source.read(a, b)) > 0; ) {             // n rows this time
   *     call.write(batch.rows(n).float32("a", a).float32("b", b).root());
   *   }
   *   call.complete();
   * }
   * }</pre>
   *
   * <p>Each batch names the first batch's columns again, with the same types and in the same
   * order, then calls {@link #root()}. The row count is {@link #rows(int)} if given (the first
   * {@code n} values of each array are taken), else the columns' common length. {@link
   * PredictCall#write} does not retain the root, and {@link PredictClient#predictStream(ModelRef,
   * java.util.Iterator)} reads each batch before advancing its iterator, so both may be given the
   * same root again and again. A column call that throws abandons the batch being filled; start it
   * again from its first column.
   *
   * <p>Owns its vectors and root, and releases them in {@link #close()}. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Reusable implements AutoCloseable {
    private final BatchFill fill;

    private Reusable(BufferAllocator allocator) {
      this.fill = new BatchFill(allocator);
    }

    /**
     * The batch being filled has {@code rows} rows: each array's first {@code rows} values are
     * used, so arrays sized for the largest batch can be reused for a short last one.
     *
     * @throws IllegalArgumentException if {@code rows} is negative
     * @throws IllegalStateException if a column of this batch was already filled
     */
    public Reusable rows(int rows) {
      fill.rows(rows);
      return this;
    }

    /** Fills a float32 column. */
    public Reusable float32(String name, float[] values) {
      return float32(name, values, null);
    }

    /** Fills a nullable float32 column: {@code isNull[i]} makes row {@code i} null. */
    public Reusable float32(String name, float[] values, boolean @Nullable [] isNull) {
      fill.float32(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Fills a nullable float32 column; null elements are null values. */
    public Reusable float32(String name, @Nullable Float[] values) {
      fill.float32(name, requireNonNull(values, "values"));
      return this;
    }

    /** Fills a float64 column. */
    public Reusable float64(String name, double[] values) {
      return float64(name, values, null);
    }

    /** Fills a nullable float64 column: {@code isNull[i]} makes row {@code i} null. */
    public Reusable float64(String name, double[] values, boolean @Nullable [] isNull) {
      fill.float64(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Fills an int32 column. */
    public Reusable int32(String name, int[] values) {
      return int32(name, values, null);
    }

    /** Fills a nullable int32 column: {@code isNull[i]} makes row {@code i} null. */
    public Reusable int32(String name, int[] values, boolean @Nullable [] isNull) {
      fill.int32(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Fills an int64 column. */
    public Reusable int64(String name, long[] values) {
      return int64(name, values, null);
    }

    /** Fills a nullable int64 column: {@code isNull[i]} makes row {@code i} null. */
    public Reusable int64(String name, long[] values, boolean @Nullable [] isNull) {
      fill.int64(name, requireNonNull(values, "values"), isNull);
      return this;
    }

    /** Fills a boolean column. */
    public Reusable bool(String name, boolean[] values) {
      fill.bool(name, requireNonNull(values, "values"));
      return this;
    }

    /** Fills a UTF-8 string column; null elements are null values. */
    public Reusable utf8(String name, @Nullable String[] values) {
      fill.utf8(name, requireNonNull(values, "values"));
      return this;
    }

    /**
     * Ends the batch just filled and returns the root holding it: the same root every time.
     * Borrowed: its contents are valid until the next batch is filled, and the root itself until
     * {@link #close()}; do not close it.
     *
     * @throws IllegalStateException if no column was filled, or fewer than the first batch has
     */
    public VectorSchemaRoot root() {
      return fill.finishBatch();
    }

    /** Releases the vectors; the root from {@link #root()} is then unusable. Idempotent. */
    @Override
    public void close() {
      fill.close();
    }
  }
}
