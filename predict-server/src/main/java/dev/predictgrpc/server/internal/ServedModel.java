/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelState;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * One hosted model version as calls see it: the model, its statistics, its batcher when batching
 * is on, and its life from loading to closed. Thread-safe.
 *
 * <p>Every call that uses the version holds it from the moment it resolves the version to its end
 * ({@link #tryAcquire}, {@link #release}), so a version that is removed or replaced ({@link
 * #drain}) closes exactly when its last call ends: calls in flight, streams included, finish on
 * the version they started on, and no call ever sees a closed model. If calls are still running
 * when the grace period ends ({@link #retire}), their next batch fails with UNAVAILABLE, and the
 * version closes once the batches being scored return.
 */
final class ServedModel {
  private static final Logger logger = Logger.getLogger(ServedModel.class.getName());
  /** How long {@link #retire} waits for batches already inside the model before closing it. */
  private static final Duration RETIRE_WAIT = Duration.ofSeconds(5);
  private static final int CLOSED = -1;

  final ModelService model;
  final ModelStatsRecorder stats;
  final @Nullable Batcher batcher;
  /** The input schema this model's calls checked last; see {@link InputSchemaCheck}. */
  final InputSchemaCheck.LastChecked lastCheckedInput = new InputSchemaCheck.LastChecked();

  /** Calls holding this version, or {@link #CLOSED} once no call may take it any more. */
  private final AtomicInteger calls = new AtomicInteger();
  /** Batches inside the model right now. */
  private final AtomicInteger predicting = new AtomicInteger();
  private final AtomicBoolean closeStarted = new AtomicBoolean();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();
  private final Runnable onClosed;
  private volatile ModelState state = ModelState.LOADING;
  /** Past its grace period: calls still holding it get UNAVAILABLE at their next batch. */
  private volatile boolean retired;

  /**
   * @param onClosed runs once, after the model and its batcher are closed
   */
  ServedModel(
      ModelService model, ModelStatsRecorder stats, @Nullable Batcher batcher, Runnable onClosed) {
    this.model = model;
    this.stats = stats;
    this.batcher = batcher;
    this.onClosed = onClosed;
  }

  ModelState state() {
    return state;
  }

  /** Marks the version published, taking new calls. */
  void serving() {
    state = ModelState.SERVING;
  }

  /** Completes when the version has closed. */
  CompletableFuture<Void> closed() {
    return closed;
  }

  /**
   * Takes the version for one call; pair with {@link #release}. Returns false if it is closing,
   * and the caller should resolve again (a newer version has been published by then).
   */
  boolean tryAcquire() {
    while (true) {
      int held = calls.get();
      if (held == CLOSED) {
        return false;
      }
      if (calls.compareAndSet(held, held + 1)) {
        return true;
      }
    }
  }

  /** Ends a call's hold; the last call of a draining version closes it. */
  void release() {
    int left = calls.updateAndGet(held -> held == CLOSED ? CLOSED : held - 1);
    if (left == 0 && state == ModelState.DRAINING) {
      closeIfIdle();
    }
  }

  /** Stops new calls from being routed here (the caller unpublished it) and closes when idle. */
  void drain() {
    state = ModelState.DRAINING;
    closeIfIdle();
  }

  /**
   * Ends the grace period: calls still holding the version fail at their next batch, and the
   * version closes once batches already inside the model return (waiting up to a few seconds).
   */
  void retire() {
    retired = true;
    calls.set(CLOSED);
    long deadline = System.nanoTime() + RETIRE_WAIT.toNanos();
    while (predicting.get() > 0 && System.nanoTime() < deadline) {
      try {
        TimeUnit.MILLISECONDS.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    closeNow(RETIRE_WAIT);
  }

  /** Stops the batcher, if any: requests waiting for a merged batch fail with UNAVAILABLE. */
  void stopBatching(Duration timeout) {
    if (batcher != null) {
      batcher.close(timeout);
    }
  }

  /** Closes the version at once, whatever holds it; for the service's own shutdown. */
  void closeNow(Duration batcherTimeout) {
    calls.set(CLOSED);
    if (!closeStarted.compareAndSet(false, true)) {
      return;
    }
    try {
      if (batcher != null) {
        batcher.close(batcherTimeout);
      }
    } finally {
      try {
        model.close();
      } catch (RuntimeException e) {
        logger.log(Level.WARNING, "model " + model + " failed to close", e);
      } finally {
        onClosed.run();
        closed.complete(null);
      }
    }
  }

  private void closeIfIdle() {
    if (calls.compareAndSet(0, CLOSED)) {
      closeNow(RETIRE_WAIT);
    }
  }

  /**
   * Scores one conformed input batch: through the batcher when it takes the batch, else directly
   * on this thread, recording the model call either way.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the returned root passes to the caller unless it is {@code input}
   * itself (an echo).
   *
   * @throws PredictException UNAVAILABLE if the version was unloaded while the call was running
   */
  VectorSchemaRoot predict(CallContext context, VectorSchemaRoot input) throws Exception {
    predicting.incrementAndGet();
    try {
      if (retired) {
        throw new PredictException(
            Status.Code.UNAVAILABLE,
            "model '"
                + model.name()
                + ":"
                + model.version()
                + "' was unloaded while this call was running; retry to reach the version now"
                + " serving");
      }
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
    } finally {
      predicting.decrementAndGet();
    }
  }
}
