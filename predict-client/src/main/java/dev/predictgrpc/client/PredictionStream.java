/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import dev.predictgrpc.client.internal.StreamingCall;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;

/**
 * The results of a streaming prediction, read one batch at a time as the server sends them.
 *
 * <pre>{@code
 * try (PredictionStream results = client.predictStream(ModelRef.of("iris"), reader)) {
 *   while (results.next()) {
 *     VectorSchemaRoot batch = results.root(); // result batch i answers input batch i
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <p>Result batch <i>i</i> answers input batch <i>i</i>, with the same row count. Results arrive
 * while input is still being sent; read them promptly, because a reader that stops reading makes
 * the server, and then the upload, stop too (that is the backpressure that bounds memory).
 *
 * <p>Not thread-safe: read from one thread. {@link #close()} cancels the call if it has not
 * finished and releases its memory; always close the stream, ideally with try-with-resources.
 *
 * @since 0.1
 */
public final class PredictionStream implements AutoCloseable {
  private final StreamingCall call;

  PredictionStream(StreamingCall call) {
    this.call = call;
  }

  /**
   * Waits for the next result batch and loads it into {@link #root()}.
   *
   * @return true if a batch was loaded; false once all results have been read
   * @throws dev.predictgrpc.common.PredictException if the call failed, with the server's status
   *     code and message
   */
  public boolean next() {
    return call.nextResult();
  }

  /**
   * The current result batch. Borrowed: valid until the next call to {@link #next()} or {@link
   * #close()}; to keep data, use {@link #takeRoot(BufferAllocator)}.
   *
   * @throws IllegalStateException if no result has arrived yet
   */
  public VectorSchemaRoot root() {
    return call.resultRoot();
  }

  /**
   * Moves the current result batch into a new root, without copying, leaving {@link #root()}
   * empty. Ownership of the returned root passes to the caller, who must close it; its memory is
   * accounted to {@code allocator}.
   */
  public VectorSchemaRoot takeRoot(BufferAllocator allocator) {
    return call.takeResult(allocator);
  }

  /**
   * The dictionaries of dictionary-encoded result columns. Borrowed: valid until {@link #close()}.
   */
  public DictionaryProvider dictionaries() {
    return call.resultDictionaries();
  }

  /** The model version answering this stream, once known; else empty. */
  public String modelVersion() {
    return call.answeredVersion();
  }

  /**
   * How many times this stream resumed on another replica after the serving one failed (see
   * {@link PredictClient.Builder#streamResumeAttempts}). After a resume, {@link #root()} may be a
   * different object.
   */
  public int resumes() {
    return call.resumes();
  }

  /** Result batches read so far. */
  public long batchesRead() {
    return call.resultBatches();
  }

  /** Result rows read so far. */
  public long rowsRead() {
    return call.resultRows();
  }

  /** Cancels the call if it is still running and releases its memory. Idempotent. */
  @Override
  public void close() {
    call.close();
  }
}
