/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import dev.predictgrpc.api.v1.BatchingSettings;
import dev.predictgrpc.api.v1.ModelStatistics;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One model version's serving statistics as a server reported them, from {@link
 * PredictClient#statistics()}: cumulative counts since the server started, and histograms of batch
 * sizes, queue times and compute times. Immutable and thread-safe. To get a rate, subtract two
 * snapshots taken some time apart.
 *
 * <p>A <em>request</em> is one input batch handed to the model (a unary call with several batches
 * makes several); a <em>model call</em> is one invocation of the model, which with dynamic batching
 * serves several requests.
 *
 * <pre>{@code
 * for (ModelStats s : client.statistics(ModelRef.of("iris"))) {
 *   System.out.printf("%s:%s %d requests, %d errors, p99 compute %d us%n", s.modelName(),
 *       s.modelVersion(), s.requests(), s.errors(), s.computeTime().percentile(99));
 * }
 * }</pre>
 *
 * @since 0.1
 */
public final class ModelStats {
  private final ModelStatistics proto;
  private final Histogram batchSize;
  private final Histogram queueTime;
  private final Histogram computeTime;

  private ModelStats(ModelStatistics proto) {
    this.proto = proto;
    this.batchSize = new Histogram(proto.getBatchSize());
    this.queueTime = new Histogram(proto.getQueueMicros());
    this.computeTime = new Histogram(proto.getComputeMicros());
  }

  /** Wraps one entry of a {@code GetModelStatistics} response (immutable, so not copied). */
  static ModelStats of(ModelStatistics proto) {
    return new ModelStats(proto);
  }

  /** The model's name. */
  public String modelName() {
    return proto.getModel().getName();
  }

  /** The model's version. */
  public String modelVersion() {
    return proto.getModel().getVersion();
  }

  /**
   * Where the version is in its life: {@link State#SERVING}, {@link State#LOADING}, or {@link
   * State#DRAINING} once removed or replaced while calls in flight finish on it.
   *
   * @since 0.2
   */
  public State state() {
    switch (proto.getState()) {
      case MODEL_STATE_LOADING:
        return State.LOADING;
      case MODEL_STATE_SERVING:
        return State.SERVING;
      case MODEL_STATE_DRAINING:
        return State.DRAINING;
      default:
        return State.UNKNOWN;
    }
  }

  /** Requests received: input batches handed to the model, failed ones included. */
  public long requests() {
    return proto.getRequests();
  }

  /** Input rows of all requests received. */
  public long rows() {
    return proto.getRows();
  }

  /** Requests that failed, whatever the cause (invalid input, model failure, full queue, ...). */
  public long errors() {
    return proto.getErrors();
  }

  /** Requests being served when the server answered: queued for a batch or being scored. */
  public long inFlight() {
    return proto.getInFlight();
  }

  /** Requests waiting in the batching queue when the server answered (0 without batching). */
  public long queued() {
    return proto.getQueued();
  }

  /** Rows per model call; its {@link Histogram#count()} is the number of model calls. */
  public Histogram batchSize() {
    return batchSize;
  }

  /** Microseconds each request waited in the batching queue (0 without batching). */
  public Histogram queueTime() {
    return queueTime;
  }

  /** Microseconds each model call took. */
  public Histogram computeTime() {
    return computeTime;
  }

  /** The model's dynamic batching settings, or null when it is served without batching. */
  public @Nullable Batching batching() {
    return proto.hasBatching() ? new Batching(proto.getBatching()) : null;
  }

  @Override
  public String toString() {
    return "ModelStats{" + modelName() + ":" + modelVersion() + ", " + state() + ", requests="
        + requests()
        + ", rows=" + rows() + ", errors=" + errors() + ", inFlight=" + inFlight() + ", queued="
        + queued() + ", batchSize=" + batchSize + ", queueTime=" + queueTime + ", computeTime="
        + computeTime + "}";
  }

  /**
   * Where a model version is in its life on the server.
   *
   * @since 0.2
   */
  public enum State {
    /** The server did not say (a server older than model lifecycles). */
    UNKNOWN,
    /** Being started or warmed up; not yet taking calls. */
    LOADING,
    /** Taking calls. */
    SERVING,
    /** Removed or replaced: takes no new calls, finishes those in flight, then closes. */
    DRAINING
  }

  /**
   * A model's dynamic batching settings, as the server reports them. Immutable and thread-safe.
   *
   * @since 0.1
   */
  public static final class Batching {
    private final BatchingSettings proto;

    private Batching(BatchingSettings proto) {
      this.proto = proto;
    }

    /** The most rows one merged model call receives. */
    public int maxRows() {
      return proto.getMaxRows();
    }

    /** The longest a request waits for others to join its batch. */
    public Duration maxQueueDelay() {
      return Duration.ofNanos(proto.getMaxQueueDelayMicros() * 1000);
    }

    /** The most requests waiting at once; the next fails with RESOURCE_EXHAUSTED. */
    public int maxQueuedRequests() {
      return proto.getMaxQueuedRequests();
    }

    @Override
    public String toString() {
      return "Batching{maxRows=" + maxRows() + ", maxQueueDelay=" + maxQueueDelay()
          + ", maxQueuedRequests=" + maxQueuedRequests() + "}";
    }
  }

  /**
   * A histogram with fixed buckets: bucket {@code i} counts values {@code v} with {@code
   * upperBounds[i-1] < v <= upperBounds[i]}, and one last bucket counts values above the last
   * bound. The bounds never change while a server runs, so two snapshots subtract bucket by
   * bucket. Immutable and thread-safe.
   *
   * @since 0.1
   */
  public static final class Histogram {
    private final dev.predictgrpc.api.v1.Histogram proto;

    private Histogram(dev.predictgrpc.api.v1.Histogram proto) {
      this.proto = proto;
    }

    /** The inclusive upper bound of each bucket but the last, ascending (unmodifiable). */
    public List<Long> upperBounds() {
      return proto.getUpperBoundsList();
    }

    /** The count of each bucket; one more than {@link #upperBounds()} (unmodifiable). */
    public List<Long> counts() {
      return proto.getCountsList();
    }

    /** How many values were recorded. */
    public long count() {
      return proto.getCount();
    }

    /** The sum of the recorded values. */
    public long sum() {
      return proto.getSum();
    }

    /** The smallest recorded value, or 0 if none. */
    public long min() {
      return proto.getMin();
    }

    /** The largest recorded value, or 0 if none. */
    public long max() {
      return proto.getMax();
    }

    /** The mean of the recorded values, or 0 if none. */
    public double mean() {
      return count() == 0 ? 0 : (double) sum() / count();
    }

    /**
     * An estimate of the {@code p}th percentile, computed as the server's own {@code
     * ModelStats.Histogram#percentile} does: the bucket holding it is found exactly and the value
     * interpolated linearly within it, narrowed to {@link #min()} and {@link #max()}. Returns 0 if
     * nothing was recorded.
     *
     * @param p the percentile, in (0, 100]
     * @throws IllegalArgumentException if {@code p} is out of range
     */
    public long percentile(double p) {
      if (!(p > 0 && p <= 100)) {
        throw new IllegalArgumentException("percentile: " + p + " (expected: > 0 and <= 100)");
      }
      long count = count();
      if (count == 0) {
        return 0;
      }
      List<Long> counts = counts();
      List<Long> bounds = upperBounds();
      double rank = p / 100 * count;
      long seen = 0;
      for (int i = 0; i < counts.size(); i++) {
        long inBucket = counts.get(i);
        if (inBucket > 0 && seen + inBucket >= rank) {
          long lower = Math.max(i == 0 ? Long.MIN_VALUE : bounds.get(i - 1) + 1, min());
          long upper = Math.min(i < bounds.size() ? bounds.get(i) : Long.MAX_VALUE, max());
          upper = Math.max(upper, lower);
          double fraction = (rank - seen) / inBucket;
          return Math.round(lower + fraction * (upper - lower));
        }
        seen += inBucket;
      }
      return max();
    }

    @Override
    public String toString() {
      return "{count=" + count() + ", sum=" + sum() + ", min=" + min() + ", max=" + max()
          + ", counts=" + counts() + "}";
    }
  }
}
