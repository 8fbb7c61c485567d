/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import io.grpc.Deadline;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link ModelService} knows about the call it is serving.
 *
 * <p>One context serves one call (a unary request or a whole stream). Its methods are safe to call
 * from any thread; {@link #isCancelled()} may be polled during long computations to stop early.
 *
 * <p>With {@link Batching}, a model call that serves several merged requests gets a context of its
 * own: a fresh allocator for the batch, the callers' (equal) parameters, the first caller's
 * principal, the latest of the callers' deadlines (none if one has none), cancelled only once
 * every caller has cancelled, and {@link #batchIndex()} counting the model's merged batches. A
 * batch holding a single request gets that caller's own context.
 *
 * @since 0.1
 */
public interface PredictContext {
  /**
   * The call's own allocator: allocate output vectors here. The library closes it when the call
   * ends, and reports anything still allocated then as a leak of this model.
   */
  BufferAllocator allocator();

  /** The model's name. */
  String modelName();

  /** The version answering this call. */
  String modelVersion();

  /** The request parameters (unmodifiable; empty if none were sent). */
  Map<String, String> parameters();

  /**
   * Who is calling: what the server's {@link Authenticator} returned, or {@code "anonymous"} when
   * the server authenticates no one.
   */
  String principal();

  /** The client's deadline for the call, or null if it has none. */
  @Nullable Deadline deadline();

  /** True once the client has cancelled the call or its deadline has passed. */
  boolean isCancelled();

  /** The zero-based index, within the call, of the batch being scored. */
  long batchIndex();

  /**
   * The dictionaries of dictionary-encoded input columns. Borrowed: valid during {@code predict}.
   */
  DictionaryProvider dictionaries();
}
