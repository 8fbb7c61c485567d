/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.ModelService;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * One hosted model version as calls see it: the model, its statistics, and its batcher when
 * batching is on. Thread-safe.
 */
final class ServedModel {
  final ModelService model;
  final ModelStatsRecorder stats;
  final @Nullable Batcher batcher;
  /** The input schema this model's calls checked last; see {@link InputSchemaCheck}. */
  final InputSchemaCheck.LastChecked lastCheckedInput = new InputSchemaCheck.LastChecked();

  ServedModel(ModelService model, ModelStatsRecorder stats, @Nullable Batcher batcher) {
    this.model = model;
    this.stats = stats;
    this.batcher = batcher;
  }

  /**
   * Scores one conformed input batch: through the batcher when it takes the batch, else directly
   * on this thread, recording the model call either way.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the returned root passes to the caller unless it is {@code input}
   * itself (an echo).
   */
  VectorSchemaRoot predict(CallContext context, VectorSchemaRoot input) throws Exception {
    if (batcher != null && batcher.accepts(input)) {
      return batcher.submit(context, input);
    }
    int rows = input.getRowCount();
    stats.queued(0);
    long start = System.nanoTime();
    try {
      return model.predict(context, input);
    } finally {
      stats.modelCall(rows, System.nanoTime() - start);
    }
  }
}
