/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.demo;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * Generates iris-like flowers batch by batch into one reused root: each row's class is drawn
 * uniformly, its features from that class's normal distributions. The class of every row is put on
 * {@code truth}, one array per batch, so results can be checked as they come back.
 */
final class SyntheticIris implements Iterator<VectorSchemaRoot>, AutoCloseable {
  private static final String[] NAMES = {"sepal_length", "sepal_width", "petal_length", "petal_width"};

  private final VectorSchemaRoot root;
  private final double[][][] stats;
  private final long totalRows;
  private final int batchRows;
  private final Queue<byte[]> truth;
  private final SplittableRandom random = new SplittableRandom(42);
  private long produced;

  SyntheticIris(
      BufferAllocator allocator, double[][][] stats, long totalRows, int batchRows, Queue<byte[]> truth) {
    List<FieldVector> vectors = new ArrayList<>();
    for (String name : NAMES) {
      vectors.add(new Float4Vector(name, allocator));
    }
    this.root = new VectorSchemaRoot(vectors);
    this.stats = stats;
    this.totalRows = totalRows;
    this.batchRows = batchRows;
    this.truth = truth;
  }

  @Override
  public boolean hasNext() {
    return produced < totalRows;
  }

  /** The next batch, borrowed until the next call. */
  @Override
  public VectorSchemaRoot next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    int rows = (int) Math.min(batchRows, totalRows - produced);
    root.allocateNew();
    byte[] classes = new byte[rows];
    for (int r = 0; r < rows; r++) {
      int c = random.nextInt(stats.length);
      classes[r] = (byte) c;
      for (int f = 0; f < NAMES.length; f++) {
        double value = stats[c][f][0] + stats[c][f][1] * gaussian();
        ((Float4Vector) root.getVector(f)).setSafe(r, (float) Math.max(0.1, value));
      }
    }
    root.setRowCount(rows);
    truth.add(classes);
    produced += rows;
    return root;
  }

  private double gaussian() {
    // Box-Muller: SplittableRandom has no nextGaussian on Java 17.
    double u = 1.0 - random.nextDouble();
    double v = random.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  @Override
  public void close() {
    root.close();
  }
}
