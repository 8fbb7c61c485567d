/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongHistogram;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.api.metrics.ObservableLongMeasurement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Publishes per-model statistics as OpenTelemetry metrics, through the API only: the application
 * brings the SDK and exporter. Counters and gauges are observed from {@link ModelStatsRecorder}
 * at each collection; histograms are recorded as calls happen. Every point carries the
 * attributes {@code model.name} and {@code model.version}. Thread-safe.
 */
final class OpenTelemetryMetrics implements AutoCloseable {
  static final String SCOPE = "dev.predictgrpc.server";
  static final AttributeKey<String> MODEL_NAME = AttributeKey.stringKey("model.name");
  static final AttributeKey<String> MODEL_VERSION = AttributeKey.stringKey("model.version");

  private static final Logger logger = Logger.getLogger(OpenTelemetryMetrics.class.getName());

  private final Meter meter;
  private final LongHistogram batchSize;
  private final DoubleHistogram queueDuration;
  private final DoubleHistogram computeDuration;
  private final List<AutoCloseable> observers = new ArrayList<>();

  OpenTelemetryMetrics(OpenTelemetry openTelemetry) {
    this.meter = openTelemetry.meterBuilder(SCOPE).build();
    List<Long> rowBounds = new ArrayList<>();
    for (long bound : ModelStatsRecorder.BATCH_SIZE_BOUNDS) {
      rowBounds.add(bound);
    }
    List<Double> secondBounds = new ArrayList<>();
    for (long micros : ModelStatsRecorder.MICROS_BOUNDS) {
      secondBounds.add(micros / 1e6);
    }
    this.batchSize =
        meter
            .histogramBuilder("predictgrpc.model.batch.size")
            .ofLongs()
            .setUnit("{row}")
            .setDescription("Rows per call of the model (a merged batch counts once).")
            .setExplicitBucketBoundariesAdvice(rowBounds)
            .build();
    this.queueDuration =
        meter
            .histogramBuilder("predictgrpc.model.queue.duration")
            .setUnit("s")
            .setDescription("Time a request waited for its batch before the model call began.")
            .setExplicitBucketBoundariesAdvice(secondBounds)
            .build();
    this.computeDuration =
        meter
            .histogramBuilder("predictgrpc.model.compute.duration")
            .setUnit("s")
            .setDescription("Time spent in one call of the model.")
            .setExplicitBucketBoundariesAdvice(secondBounds)
            .build();
  }

  static Attributes attributes(String modelName, String modelVersion) {
    return Attributes.of(MODEL_NAME, modelName, MODEL_VERSION, modelVersion);
  }

  /** A sink recording one model version's calls into the histograms. */
  MetricsSink sink(String modelName, String modelVersion) {
    Attributes attributes = attributes(modelName, modelVersion);
    return new MetricsSink() {
      @Override
      public void modelCall(int rows, long computeNanos) {
        batchSize.record(rows, attributes);
        computeDuration.record(computeNanos / 1e9, attributes);
      }

      @Override
      public void queued(long waitNanos) {
        queueDuration.record(waitNanos / 1e9, attributes);
      }
    };
  }

  /** Registers the counters and gauges, read from {@code recorders} at each collection. */
  void observe(Supplier<List<ModelStatsRecorder>> recorders) {
    observers.add(
        meter
            .counterBuilder("predictgrpc.model.requests")
            .setUnit("{request}")
            .setDescription("Requests (input batches) received, failed ones included.")
            .buildWithCallback(each(recorders, ModelStatsRecorder::requests)));
    observers.add(
        meter
            .counterBuilder("predictgrpc.model.rows")
            .setUnit("{row}")
            .setDescription("Input rows received.")
            .buildWithCallback(each(recorders, ModelStatsRecorder::rows)));
    observers.add(
        meter
            .counterBuilder("predictgrpc.model.errors")
            .setUnit("{request}")
            .setDescription("Requests that failed, whatever the cause.")
            .buildWithCallback(each(recorders, ModelStatsRecorder::errors)));
    observers.add(
        meter
            .upDownCounterBuilder("predictgrpc.model.in_flight")
            .setUnit("{request}")
            .setDescription("Requests queued for a batch or being scored.")
            .buildWithCallback(each(recorders, ModelStatsRecorder::inFlight)));
    observers.add(
        meter
            .upDownCounterBuilder("predictgrpc.model.queued")
            .setUnit("{request}")
            .setDescription("Requests waiting in the batching queue.")
            .buildWithCallback(each(recorders, r -> r.queuedNow())));
  }

  /** Records {@code value} of every model version hosted at the time of each collection. */
  private static Consumer<ObservableLongMeasurement> each(
      Supplier<List<ModelStatsRecorder>> recorders, ToLongFunction<ModelStatsRecorder> value) {
    return measurement -> {
      for (ModelStatsRecorder recorder : recorders.get()) {
        measurement.record(
            value.applyAsLong(recorder),
            attributes(recorder.modelName(), recorder.modelVersion()));
      }
    };
  }

  /** Unregisters the observed instruments. */
  @Override
  public void close() {
    for (AutoCloseable observer : observers) {
      try {
        observer.close();
      } catch (Exception e) {
        logger.log(Level.FINE, "could not unregister an OpenTelemetry instrument", e);
      }
    }
    observers.clear();
  }
}
