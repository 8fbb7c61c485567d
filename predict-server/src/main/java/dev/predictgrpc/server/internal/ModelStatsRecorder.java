/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelState;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Counts one model version's requests, rows, errors and calls, and keeps its batch-size, queue-time
 * and compute-time histograms. Thread-safe and lock-free: every scoring thread records here.
 *
 * <p>Buckets are fixed so that snapshots taken at different times can be subtracted: batch sizes
 * 1, 2, 4, ... 4096 rows and above; times 50 us, 100 us, 200 us, ... 13.1 s and above.
 */
final class ModelStatsRecorder {
  /** Batch-size bucket bounds: 1, 2, 4, ..., 4096 rows. */
  static final long[] BATCH_SIZE_BOUNDS = BucketHistogram.exponentialBounds(1, 13);

  /** Duration bucket bounds in microseconds: 50 us, 100 us, ..., 13,107,200 us (13.1 s). */
  static final long[] MICROS_BOUNDS = BucketHistogram.exponentialBounds(50, 19);

  private final String modelName;
  private final String modelVersion;
  private final @Nullable Batching batching;
  private final LongAdder requests = new LongAdder();
  private final LongAdder rows = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder inFlight = new LongAdder();
  private final BucketHistogram batchSize = new BucketHistogram(BATCH_SIZE_BOUNDS);
  private final BucketHistogram queueMicros = new BucketHistogram(MICROS_BOUNDS);
  private final BucketHistogram computeMicros = new BucketHistogram(MICROS_BOUNDS);
  private final MetricsSink sink;
  private volatile IntSupplier queued = () -> 0;

  ModelStatsRecorder(
      String modelName, String modelVersion, @Nullable Batching batching, MetricsSink sink) {
    this.modelName = modelName;
    this.modelVersion = modelVersion;
    this.batching = batching;
    this.sink = sink;
  }

  /** Where the current queue length comes from (the model's batcher). */
  void queueLength(IntSupplier queued) {
    this.queued = queued;
  }

  /** A request with {@code rowCount} rows has arrived; pair with {@link #requestFinished}. */
  void requestStarted(int rowCount) {
    requests.increment();
    rows.add(rowCount);
    inFlight.increment();
  }

  /** The request begun by {@link #requestStarted} has ended, successfully or not. */
  void requestFinished(boolean ok) {
    inFlight.decrement();
    if (!ok) {
      errors.increment();
    }
  }

  /** One call of the model with {@code rowCount} rows took {@code computeNanos}. */
  void modelCall(int rowCount, long computeNanos) {
    batchSize.record(rowCount);
    computeMicros.record(TimeUnit.NANOSECONDS.toMicros(computeNanos));
    sink.modelCall(rowCount, computeNanos);
  }

  /** A request waited {@code waitNanos} before its model call began (0 without batching). */
  void queued(long waitNanos) {
    queueMicros.record(TimeUnit.NANOSECONDS.toMicros(waitNanos));
    sink.queued(waitNanos);
  }

  String modelName() {
    return modelName;
  }

  String modelVersion() {
    return modelVersion;
  }

  long requests() {
    return requests.sum();
  }

  long rows() {
    return rows.sum();
  }

  long errors() {
    return errors.sum();
  }

  long inFlight() {
    return inFlight.sum();
  }

  int queuedNow() {
    return queued.getAsInt();
  }

  StatsSnapshot snapshot(ModelState state) {
    return new StatsSnapshot(
        modelName,
        modelVersion,
        state,
        batching,
        requests.sum(),
        rows.sum(),
        errors.sum(),
        inFlight.sum(),
        queued.getAsInt(),
        batchSize.snapshot(),
        queueMicros.snapshot(),
        computeMicros.snapshot());
  }
}
