/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import java.util.Arrays;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * A histogram with fixed buckets, recorded without locks (one {@link LongAdder} per bucket), so
 * that every scoring thread can record into it without contending. Thread-safe; a snapshot taken
 * while values are recorded may be off by the values in flight, never inconsistent beyond that.
 */
final class BucketHistogram {
  private final long[] upperBounds;
  private final LongAdder[] counts;
  private final LongAdder sum = new LongAdder();
  private final LongAccumulator min = new LongAccumulator(Math::min, Long.MAX_VALUE);
  private final LongAccumulator max = new LongAccumulator(Math::max, Long.MIN_VALUE);

  /** A histogram with these inclusive upper bounds (ascending) and one unbounded last bucket. */
  BucketHistogram(long[] upperBounds) {
    this.upperBounds = upperBounds.clone();
    this.counts = new LongAdder[upperBounds.length + 1];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = new LongAdder();
    }
  }

  /** Bounds {@code first, first * 2, first * 4, ...}: {@code n} of them. */
  static long[] exponentialBounds(long first, int n) {
    long[] bounds = new long[n];
    for (int i = 0; i < n; i++) {
      bounds[i] = first << i;
    }
    return bounds;
  }

  void record(long value) {
    int index = Arrays.binarySearch(upperBounds, value);
    // A value equal to a bound belongs to that bound's bucket; otherwise the insertion point is
    // the first bound above the value, which is the bucket's index too.
    counts[index >= 0 ? index : -index - 1].increment();
    sum.add(value);
    min.accumulate(value);
    max.accumulate(value);
  }

  long[] upperBounds() {
    return upperBounds.clone();
  }

  StatsSnapshot.Histogram snapshot() {
    long[] snapshot = new long[counts.length];
    for (int i = 0; i < counts.length; i++) {
      snapshot[i] = counts[i].sum();
    }
    return new StatsSnapshot.Histogram(
        upperBounds.clone(), snapshot, sum.sum(), min.get(), max.get());
  }
}
