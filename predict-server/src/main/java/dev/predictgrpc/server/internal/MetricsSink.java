/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

/**
 * Receives one model version's measurements as they happen, for exporters that need every value
 * (OpenTelemetry histograms). Implementations must be thread-safe and cheap: they run on the
 * scoring threads.
 */
interface MetricsSink {
  /** A sink that drops everything. */
  MetricsSink NONE =
      new MetricsSink() {
        @Override
        public void modelCall(int rows, long computeNanos) {}

        @Override
        public void queued(long waitNanos) {}
      };

  /** One call of the model: the rows it scored and how long it took. */
  void modelCall(int rows, long computeNanos);

  /** One request left the batching queue for the model after waiting {@code waitNanos}. */
  void queued(long waitNanos);
}
