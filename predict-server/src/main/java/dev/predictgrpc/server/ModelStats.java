/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one model version's serving statistics since the service was built: counts, batch
 * sizes, and queue and compute times. Immutable and thread-safe; take a new one with {@link
 * PredictService#statistics()} to see later figures.
 *
 * <p>A <em>request</em> is one input batch handed to the model: the batch of a unary call (a
 * call with several batches makes several requests), or one batch of a stream. A <em>model
 * call</em> is one invocation of {@link ModelService#predict}; with {@link Batching} it serves
 * several requests, without it exactly one.
 *
 * <pre>{@code
 * for (ModelStats s : server.statistics()) {
 *   System.out.printf("%s:%s %d requests, mean batch %.1f rows, p99 queue %d us%n",
 *       s.modelName(), s.modelVersion(), s.requests(), s.batchSize().mean(),
 *       s.queueTime().percentile(99));
 * }
 * }</pre>
 *
 * @since 0.1
 */
public final class ModelStats {
  private final String modelName;
  private final String modelVersion;
  private final ModelState state;
  private final @Nullable Batching batching;
  private final long requests;
  private final long rows;
  private final long errors;
  private final long inFlight;
  private final long queued;
  private final Histogram batchSize;
  private final Histogram queueTime;
  private final Histogram computeTime;

  ModelStats(
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
      Histogram queueTime,
      Histogram computeTime) {
    this.modelName = modelName;
    this.modelVersion = modelVersion;
    this.state = state;
    this.batching = batching;
    this.requests = requests;
    this.rows = rows;
    this.errors = errors;
    this.inFlight = inFlight;
    this.queued = queued;
    this.batchSize = batchSize;
    this.queueTime = queueTime;
    this.computeTime = computeTime;
  }

  /** The model's name. */
  public String modelName() {
    return modelName;
  }

  /** The model's version. */
  public String modelVersion() {
    return modelVersion;
  }

  /** Where the version is in its life: loading, serving, or draining before it closes. */
  public ModelState state() {
    return state;
  }

  /** The model's batching settings, or null when it is served without batching. */
  public @Nullable Batching batching() {
    return batching;
  }

  /** Requests received: input batches handed to the model, failed ones included. */
  public long requests() {
    return requests;
  }

  /** Input rows of all requests received. */
  public long rows() {
    return rows;
  }

  /**
   * Requests that failed, whatever the cause: invalid input, a model failure or broken contract,
   * a full batching queue, a call cancelled or past its deadline while it waited, shutdown.
   */
  public long errors() {
    return errors;
  }

  /** Requests being served right now: waiting in the batching queue or being scored. */
  public long inFlight() {
    return inFlight;
  }

  /** Requests waiting in the batching queue right now (0 without batching). */
  public long queued() {
    return queued;
  }

  /**
   * Rows per model call. Its {@link Histogram#count()} is the number of model calls, so {@code
   * requests() / batchSize().count()} is the mean number of requests merged per call.
   */
  public Histogram batchSize() {
    return batchSize;
  }

  /**
   * Microseconds each request waited in the batching queue before its model call began (0 for
   * requests scored without batching). Counts requests that reached the model.
   */
  public Histogram queueTime() {
    return queueTime;
  }

  /** Microseconds each model call spent in {@link ModelService#predict}. Counts model calls. */
  public Histogram computeTime() {
    return computeTime;
  }

  @Override
  public String toString() {
    return "ModelStats{" + modelName + ":" + modelVersion + ", requests=" + requests + ", rows="
        + rows + ", errors=" + errors + ", inFlight=" + inFlight + ", queued=" + queued
        + ", batchSize=" + batchSize + ", queueTime=" + queueTime + ", computeTime="
        + computeTime + "}";
  }

  /**
   * A histogram with fixed buckets: bucket {@code i} counts values {@code v} with {@code
   * upperBounds[i-1] < v <= upperBounds[i]}, and one last bucket counts values above the last
   * bound. Immutable and thread-safe.
   *
   * @since 0.1
   */
  public static final class Histogram {
    private final List<Long> upperBounds;
    private final List<Long> counts;
    private final long count;
    private final long sum;
    private final long min;
    private final long max;

    /**
     * A histogram snapshot.
     *
     * @param upperBounds the inclusive upper bound of every bucket but the last, ascending
     * @param counts one count per bucket: {@code upperBounds.length + 1} of them
     * @param sum the sum of all recorded values
     * @param min the smallest recorded value (ignored if none)
     * @param max the largest recorded value (ignored if none)
     */
    Histogram(long[] upperBounds, long[] counts, long sum, long min, long max) {
      if (counts.length != upperBounds.length + 1) {
        throw new IllegalArgumentException(
            "counts: " + counts.length + " (expected: upperBounds.length + 1 = "
                + (upperBounds.length + 1) + ")");
      }
      List<Long> bounds = new ArrayList<>(upperBounds.length);
      for (long bound : upperBounds) {
        bounds.add(bound);
      }
      long total = 0;
      List<Long> countList = new ArrayList<>(counts.length);
      for (long c : counts) {
        countList.add(c);
        total += c;
      }
      this.upperBounds = Collections.unmodifiableList(bounds);
      this.counts = Collections.unmodifiableList(countList);
      this.count = total;
      this.sum = sum;
      this.min = total == 0 ? 0 : min;
      this.max = total == 0 ? 0 : max;
    }

    /** The inclusive upper bound of each bucket but the last, ascending. */
    public List<Long> upperBounds() {
      return upperBounds;
    }

    /** The count of each bucket; one more than {@link #upperBounds()}, the last unbounded. */
    public List<Long> counts() {
      return counts;
    }

    /** How many values were recorded. */
    public long count() {
      return count;
    }

    /** The sum of the recorded values. */
    public long sum() {
      return sum;
    }

    /** The smallest recorded value, or 0 if none. */
    public long min() {
      return min;
    }

    /** The largest recorded value, or 0 if none. */
    public long max() {
      return max;
    }

    /** The mean of the recorded values, or 0 if none. */
    public double mean() {
      return count == 0 ? 0 : (double) sum / count;
    }

    /**
     * An estimate of the {@code p}th percentile: the bucket holding it is found exactly, and the
     * value is interpolated linearly within the bucket, narrowed to {@link #min()} and {@link
     * #max()} (so the last, unbounded bucket ends at the maximum). Returns 0 if nothing was
     * recorded.
     *
     * @param p the percentile, in (0, 100]
     * @throws IllegalArgumentException if {@code p} is out of range
     */
    public long percentile(double p) {
      if (!(p > 0 && p <= 100)) {
        throw new IllegalArgumentException("percentile: " + p + " (expected: > 0 and <= 100)");
      }
      if (count == 0) {
        return 0;
      }
      double rank = p / 100 * count;
      long seen = 0;
      for (int i = 0; i < counts.size(); i++) {
        long inBucket = counts.get(i);
        if (inBucket > 0 && seen + inBucket >= rank) {
          long lower = Math.max(i == 0 ? Long.MIN_VALUE : upperBounds.get(i - 1) + 1, min);
          long upper = Math.min(i < upperBounds.size() ? upperBounds.get(i) : Long.MAX_VALUE, max);
          upper = Math.max(upper, lower);
          double fraction = (rank - seen) / inBucket;
          return Math.round(lower + fraction * (upper - lower));
        }
        seen += inBucket;
      }
      return max;
    }

    @Override
    public String toString() {
      return "{count=" + count + ", sum=" + sum + ", min=" + min + ", max=" + max + ", counts="
          + counts + "}";
    }
  }
}
