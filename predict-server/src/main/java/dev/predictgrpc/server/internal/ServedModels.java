/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelService;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * The hosted model versions with what serving them needs beyond the model: statistics, the
 * batchers of batched models, and their OpenTelemetry metrics. Thread-safe; {@link #close}
 * stops the batchers.
 */
public final class ServedModels {
  private final ModelRegistry registry;
  private final Map<ModelService, ServedModel> byModel = new IdentityHashMap<>();
  private final List<ServedModel> all = new ArrayList<>();
  private final @Nullable OpenTelemetryMetrics metrics;

  /**
   * Starts serving the registry's models, which must already be started. Models in {@code
   * batching} get a batcher whose merged batches take memory from children of {@code allocator}
   * (not owned), each limited to {@code memoryLimit} bytes. With {@code openTelemetry}, per-model
   * metrics are published through it.
   */
  public ServedModels(
      ModelRegistry registry,
      Map<ModelService, Batching> batching,
      BufferAllocator allocator,
      long memoryLimit,
      @Nullable OpenTelemetry openTelemetry) {
    this.registry = registry;
    this.metrics = openTelemetry == null ? null : new OpenTelemetryMetrics(openTelemetry);
    List<ModelStatsRecorder> recorders = new ArrayList<>();
    for (ModelService model : registry.all()) {
      Batching config = batching.get(model);
      MetricsSink sink =
          metrics == null ? MetricsSink.NONE : metrics.sink(model.name(), model.version());
      ModelStatsRecorder stats =
          new ModelStatsRecorder(model.name(), model.version(), config, sink);
      Batcher batcher =
          config == null ? null : Batcher.start(model, config, allocator, memoryLimit, stats);
      ServedModel served = new ServedModel(model, stats, batcher);
      byModel.put(model, served);
      all.add(served);
      recorders.add(stats);
    }
    if (metrics != null) {
      metrics.observe(recorders);
    }
  }

  /** The serving state of a model from the registry. */
  ServedModel get(ModelService model) {
    ServedModel served = byModel.get(model);
    if (served == null) {
      throw new IllegalArgumentException("model " + model + " is not served here");
    }
    return served;
  }

  /** The registry these models come from. */
  public ModelRegistry registry() {
    return registry;
  }

  /** Statistics of every model version, by name then version. */
  public List<StatsSnapshot> statistics() {
    List<StatsSnapshot> snapshots = new ArrayList<>(all.size());
    all.forEach(served -> snapshots.add(served.stats.snapshot()));
    return snapshots;
  }

  /** Statistics of one model version from the registry. */
  public StatsSnapshot statistics(ModelService model) {
    return get(model).stats.snapshot();
  }

  /**
   * Stops every batcher (waiting requests fail with UNAVAILABLE; a running batch gets up to
   * {@code timeout} to finish) and unregisters the metrics. Call before closing the models.
   */
  public void close(Duration timeout) {
    for (ServedModel served : all) {
      if (served.batcher != null) {
        served.batcher.close(timeout);
      }
    }
    if (metrics != null) {
      metrics.close();
    }
  }
}
