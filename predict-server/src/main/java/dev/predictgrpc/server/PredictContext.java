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
 * {@link #output(int)} starts the output batch, allocated from {@link #allocator()}; {@link
 * Columns} reads typed input columns.
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

  /**
   * True once the client has cancelled the call or its deadline has passed (with {@link Batching},
   * once every caller of the merged batch has). Nobody will read this call's answer any more.
   *
   * <p><b>What to do.</b> Long computations should poll this between units of work (rows, chunks,
   * inference steps) and, once it is true, stop, release what they hold and throw {@code new
   * PredictException(Status.Code.CANCELLED, "...")}: the server then stops the call without logging
   * a model failure, and the client, which already has its own CANCELLED or DEADLINE_EXCEEDED
   * status, receives nothing more. Close the output vectors already allocated (an {@link
   * OutputBuilder} in try-with-resources does this); anything left in {@link #allocator()} is
   * freed with the call but logged as a leak of this model. Returning a result instead is harmless
   * but wasted: it is dropped. Any other exception is treated as the model failing and logged.
   *
   * <p>Short models need not poll: the server checks before each batch, and never hands a cancelled
   * call's next batch to the model.
   */
  boolean isCancelled();

  /** The zero-based index, within the call, of the batch being scored. */
  long batchIndex();

  /**
   * The dictionaries of dictionary-encoded input columns. Borrowed: valid during {@code predict}.
   */
  DictionaryProvider dictionaries();

  /**
   * Starts this batch's output: an {@link OutputBuilder} whose columns are allocated from {@link
   * #allocator()} with room for {@code rows} rows (usually {@code input.getRowCount()}), every row
   * null until set.
   *
   * <pre>{@code
   * try (OutputBuilder out = ctx.output(input.getRowCount())) {
   *   Float4Vector score = out.float32("score");
   *   ... score.set(i, value) ...
   *   return out.build();
   * }
   * }</pre>
   *
   * <p>Ownership of the returned builder passes to the caller, who must close it (closing it after
   * {@link OutputBuilder#build()} does nothing, so try-with-resources fits).
   *
   * @throws IllegalArgumentException if {@code rows} is negative
   * @since 0.1
   */
  default OutputBuilder output(int rows) {
    return new OutputBuilder(allocator(), rows);
  }
}
