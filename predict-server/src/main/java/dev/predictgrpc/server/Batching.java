/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How a model's concurrent requests are merged into one model call (dynamic batching). Immutable
 * and thread-safe.
 *
 * <pre>{@code
 * PredictServer.builder(allocator)
 *     .addModel(new IrisModel(), Batching.of(256, Duration.ofMillis(2)))
 *     ...
 * }</pre>
 *
 * <p>Requests (a unary call's batch, or one batch of a stream) to the same model version, with
 * equal parameters and equal input schemas, wait in a queue for up to {@link #maxQueueDelay()}
 * after the first of them arrived, or until {@link #maxRows()} rows are waiting, and are then
 * concatenated and scored by one call to {@link ModelService#predict}; each caller gets exactly its
 * own rows back, in order. One batch runs at a time per model version, on a dispatcher thread of
 * its own, so requests queue while the model is busy and the next batch takes them all: even a
 * delay of zero forms large batches under load. When requests stop overlapping (a lone caller),
 * the batcher stops waiting for company until they overlap again, so the delay is not paid in
 * vain on every request.
 *
 * <p>A request is scored alone, at once, on the caller's thread (as without batching) when it has
 * no rows, has {@link #maxRows()} rows or more, or has dictionary-encoded columns. When {@link
 * #maxQueuedRequests()} requests are already waiting, the next one fails at once with
 * RESOURCE_EXHAUSTED. A request whose call is cancelled or whose deadline passes while it waits
 * is dropped before the model runs.
 *
 * @since 0.1
 */
public final class Batching {
  private static final int DEFAULT_MAX_ROWS = 256;
  private static final Duration DEFAULT_MAX_QUEUE_DELAY = Duration.ofMillis(1);
  private static final int DEFAULT_MAX_QUEUED_REQUESTS = 1024;
  private static final Duration MAX_QUEUE_DELAY_BOUND = Duration.ofSeconds(10);

  private final int maxRows;
  private final Duration maxQueueDelay;
  private final int maxQueuedRequests;

  private Batching(Builder builder) {
    this.maxRows = builder.maxRows;
    this.maxQueueDelay = builder.maxQueueDelay;
    this.maxQueuedRequests = builder.maxQueuedRequests;
  }

  /**
   * Batching with these two knobs and the default queue bound (1,024 requests).
   *
   * @throws IllegalArgumentException as {@link Builder#maxRows} and {@link Builder#maxQueueDelay}
   */
  public static Batching of(int maxRows, Duration maxQueueDelay) {
    return builder().maxRows(maxRows).maxQueueDelay(maxQueueDelay).build();
  }

  /** Starts from the defaults: 256 rows, 1 ms, 1,024 queued requests. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these settings. */
  public Builder toBuilder() {
    return new Builder().maxRows(maxRows).maxQueueDelay(maxQueueDelay)
        .maxQueuedRequests(maxQueuedRequests);
  }

  /** The most rows one merged model call receives. */
  public int maxRows() {
    return maxRows;
  }

  /** The longest a request waits for others to join its batch, counted from its arrival. */
  public Duration maxQueueDelay() {
    return maxQueueDelay;
  }

  /** The most requests waiting for a batch at once; more fail with RESOURCE_EXHAUSTED. */
  public int maxQueuedRequests() {
    return maxQueuedRequests;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Batching)) {
      return false;
    }
    Batching other = (Batching) o;
    return maxRows == other.maxRows
        && maxQueueDelay.equals(other.maxQueueDelay)
        && maxQueuedRequests == other.maxQueuedRequests;
  }

  @Override
  public int hashCode() {
    return (maxRows * 31 + maxQueueDelay.hashCode()) * 31 + maxQueuedRequests;
  }

  @Override
  public String toString() {
    return "Batching{maxRows=" + maxRows + ", maxQueueDelay=" + maxQueueDelay
        + ", maxQueuedRequests=" + maxQueuedRequests + "}";
  }

  /**
   * Builds {@link Batching}. Each setter validates its argument at once. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private int maxRows = DEFAULT_MAX_ROWS;
    private Duration maxQueueDelay = DEFAULT_MAX_QUEUE_DELAY;
    private int maxQueuedRequests = DEFAULT_MAX_QUEUED_REQUESTS;

    private Builder() {}

    /**
     * The most rows one merged model call receives. Default 256.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maxRows(int rows) {
      if (rows <= 0) {
        throw new IllegalArgumentException("maxRows: " + rows + " (expected: > 0)");
      }
      this.maxRows = rows;
      return this;
    }

    /**
     * The longest a request waits for others to join its batch. Default 1 ms. Zero dispatches
     * whatever is queued as soon as the model is free.
     *
     * <p>Waiting only pays when requests overlap, so after three batches in a row of a single
     * request that waited in vain, the batcher stops waiting (as with zero) until a request
     * arrives while the model is busy. A lone caller thus pays the delay on its first few requests
     * only, and never more than the delay.
     *
     * @throws IllegalArgumentException if negative or over 10 s
     */
    public Builder maxQueueDelay(Duration delay) {
      requireNonNull(delay, "delay");
      if (delay.isNegative() || delay.compareTo(MAX_QUEUE_DELAY_BOUND) > 0) {
        throw new IllegalArgumentException(
            "maxQueueDelay: " + delay + " (expected: >= 0 and <= " + MAX_QUEUE_DELAY_BOUND + ")");
      }
      this.maxQueueDelay = delay;
      return this;
    }

    /**
     * The most requests waiting for a batch at once (per model version); the next one fails with
     * RESOURCE_EXHAUSTED. Each waiting request holds a gRPC thread. Default 1,024.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maxQueuedRequests(int requests) {
      if (requests <= 0) {
        throw new IllegalArgumentException(
            "maxQueuedRequests: " + requests + " (expected: > 0)");
      }
      this.maxQueuedRequests = requests;
      return this;
    }

    /** Creates the settings. */
    public Batching build() {
      return new Batching(this);
    }
  }
}
