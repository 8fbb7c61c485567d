/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelState;
import org.jspecify.annotations.Nullable;

/**
 * The raw figures of one model version's statistics at one moment, for the public {@code
 * ModelStats} and the {@code GetModelStatistics} RPC to present. Durations are in microseconds.
 */
public record StatsSnapshot(
    String modelName,
    String modelVersion,
    ModelState state,
    @Nullable Batching batching,
    long requests,
    long rows,
    long errors,
    long inFlight,
    long queued,
    Histogram batchSize,
    Histogram queueMicros,
    Histogram computeMicros) {

  /**
   * A histogram's buckets ({@code counts} has one more entry than {@code upperBounds}, the last
   * bucket unbounded), sum, and extremes ({@code min} is {@code Long.MAX_VALUE} and {@code max}
   * {@code Long.MIN_VALUE} when nothing was recorded). The arrays are fresh copies, owned by
   * whoever took the snapshot.
   */
  public record Histogram(long[] upperBounds, long[] counts, long sum, long min, long max) {
    /** How many values were recorded. */
    public long count() {
      long total = 0;
      for (long c : counts) {
        total += c;
      }
      return total;
    }
  }
}
