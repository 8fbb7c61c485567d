/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * A float32 table generated one batch at a time into one reused root, finite or endless, so the
 * table never exists whole. Every value is a function of (batch, row, column), so a reader can
 * check what comes back without keeping what was sent.
 *
 * <p>The client pulls batches on gRPC's callback thread; {@link #produced()} may be read from any
 * thread.
 */
final class GeneratedBatches implements Iterator<VectorSchemaRoot>, AutoCloseable {
  private final VectorSchemaRoot root;
  private final int columns;
  private final int rows;
  private final long batches;
  private final AtomicLong produced = new AtomicLong();

  /** {@code batches} batches of {@code rows} rows and {@code columns} columns f0, f1, ... */
  GeneratedBatches(BufferAllocator allocator, int columns, int rows, long batches) {
    this.columns = columns;
    this.rows = rows;
    this.batches = batches;
    List<FieldVector> vectors = new ArrayList<>();
    for (int c = 0; c < columns; c++) {
      Float4Vector v = new Float4Vector("f" + c, allocator);
      v.allocateNew(rows);
      vectors.add(v);
    }
    root = new VectorSchemaRoot(vectors);
  }

  /** A table that never ends: the consumer decides when to stop. */
  static GeneratedBatches endless(BufferAllocator allocator, int columns, int rows) {
    return new GeneratedBatches(allocator, columns, rows, Long.MAX_VALUE);
  }

  /**
   * The value at (batch, row, column): under 2^20 plus a quarter step, so exact in float32, and
   * shifted per batch so that a batch answered out of order or twice is caught.
   */
  static float value(long batch, int row, int column) {
    return (float) ((batch * 31 + row) % 1_000_000) + column * 0.25f;
  }

  /** Throws unless {@code root} is exactly batch {@code batch} of such a table (an echo of it). */
  static void check(VectorSchemaRoot root, long batch, int columns, int rows) {
    if (root.getRowCount() != rows) {
      throw new AssertionError(
          "batch " + batch + ": " + root.getRowCount() + " rows, want " + rows);
    }
    if (root.getFieldVectors().size() != columns) {
      throw new AssertionError(
          "batch " + batch + ": " + root.getFieldVectors().size() + " columns, want " + columns);
    }
    for (int c = 0; c < columns; c++) {
      Float4Vector column = (Float4Vector) root.getVector(c);
      for (int r = 0; r < rows; r++) {
        float want = value(batch, r, c);
        if (column.isNull(r) || column.get(r) != want) {
          throw new AssertionError(
              "batch "
                  + batch
                  + " row "
                  + r
                  + " column "
                  + c
                  + ": "
                  + (column.isNull(r) ? "null" : column.get(r))
                  + " != "
                  + want);
        }
      }
    }
  }

  /** Batches handed out so far. */
  long produced() {
    return produced.get();
  }

  @Override
  public boolean hasNext() {
    return produced.get() < batches;
  }

  @Override
  public VectorSchemaRoot next() {
    long batch = produced.get();
    if (batch >= batches) {
      throw new NoSuchElementException();
    }
    for (int c = 0; c < columns; c++) {
      Float4Vector v = (Float4Vector) root.getVector(c);
      for (int r = 0; r < rows; r++) {
        v.set(r, value(batch, r, c));
      }
      v.setValueCount(rows);
    }
    root.setRowCount(rows);
    produced.incrementAndGet();
    return root;
  }

  @Override
  public void close() {
    root.close();
  }
}
