/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import dev.predictgrpc.client.internal.StreamingCall;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * A streaming prediction whose input the caller pushes one batch at a time.
 *
 * <pre>{@code
 * try (PredictCall call = client.openStream(ModelRef.of("iris"))) {
 *   executor.submit(() -> {            // write on one thread...
 *     for (VectorSchemaRoot batch : batches) call.write(batch);
 *     call.complete();
 *   });
 *   PredictionStream results = call.results();
 *   while (results.next()) { ... }     // ...read on another
 * }
 * }</pre>
 *
 * <p>{@link #write} blocks while the transport cannot take more, so a fast producer waits for the
 * network and the server instead of filling memory. Because the server answers batch <i>i</i>
 * before reading much past it, the results must be read <b>on another thread</b> than the one
 * writing; a single thread that writes everything before reading stalls once the windows fill.
 * (To let the client drive the upload itself, use {@link PredictClient#predictStream}.)
 *
 * <p>Threading: write and complete from one thread; read results from one other thread; {@link
 * #cancel} from any thread.
 *
 * @since 0.1
 */
public final class PredictCall implements AutoCloseable {
  private final StreamingCall call;
  private final PredictionStream results;

  PredictCall(StreamingCall call) {
    this.call = call;
    this.results = new PredictionStream(call);
  }

  /**
   * Sends one batch, waiting until the transport is ready for it.
   *
   * <p>The caller retains ownership of {@code batch}; it is not retained after this method
   * returns, so the caller may refill and resend the same root.
   *
   * @throws dev.predictgrpc.common.PredictException if the call has already failed or ended
   */
  public void write(VectorSchemaRoot batch) {
    call.write(batch, null);
  }

  /**
   * Sends one batch with dictionary-encoded columns. The dictionaries are sent once, with the
   * first batch, and must not change afterwards.
   *
   * <p>The caller retains ownership of {@code batch} and {@code dictionaries}; neither is retained
   * after this method returns.
   */
  public void write(VectorSchemaRoot batch, @Nullable DictionaryProvider dictionaries) {
    call.write(batch, dictionaries);
  }

  /** Ends the input; the server then sends the remaining results and ends the call. */
  public void complete() {
    call.completeInput();
  }

  /** The results, in input order. The same object on every call. */
  public PredictionStream results() {
    return results;
  }

  /** Cancels the call. Safe from any thread. */
  public void cancel() {
    call.cancel("cancelled by the client", null);
  }

  /** Cancels the call if it has not finished and releases its memory. Idempotent. */
  @Override
  public void close() {
    call.close();
  }
}
