/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.PredictContext;
import io.grpc.Deadline;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * The {@link PredictContext} of one merged model call, serving the calls of several requests.
 * Safe to read from any thread.
 *
 * <p>The allocator belongs to the batch (the library splits the output into each caller's own
 * memory and then closes it); the parameters are the callers' (equal by construction); the
 * principal is the first caller's; the deadline is the latest of the callers', or none if one of
 * them has none; the batch counts as cancelled only once every caller has cancelled.
 */
final class BatchContext implements PredictContext {
  private static final DictionaryProvider NO_DICTIONARIES =
      new DictionaryProvider.MapDictionaryProvider();

  private final BufferAllocator allocator;
  private final List<CallContext> callers;
  private final long batchIndex;

  BatchContext(BufferAllocator allocator, List<CallContext> callers, long batchIndex) {
    this.allocator = allocator;
    this.callers = List.copyOf(callers);
    this.batchIndex = batchIndex;
  }

  @Override
  public BufferAllocator allocator() {
    return allocator;
  }

  @Override
  public String modelName() {
    return callers.get(0).modelName();
  }

  @Override
  public String modelVersion() {
    return callers.get(0).modelVersion();
  }

  @Override
  public Map<String, String> parameters() {
    return callers.get(0).parameters();
  }

  @Override
  public String principal() {
    return callers.get(0).principal();
  }

  @Override
  public @Nullable Deadline deadline() {
    Deadline latest = null;
    for (CallContext caller : callers) {
      Deadline deadline = caller.deadline();
      if (deadline == null) {
        return null;
      }
      if (latest == null || deadline.compareTo(latest) > 0) {
        latest = deadline;
      }
    }
    return latest;
  }

  @Override
  public boolean isCancelled() {
    for (CallContext caller : callers) {
      if (!caller.isCancelled()) {
        return false;
      }
    }
    return true;
  }

  /** The merged batch's sequence number among this model version's merged batches. */
  @Override
  public long batchIndex() {
    return batchIndex;
  }

  /** Always empty: requests with dictionary-encoded columns are never merged. */
  @Override
  public DictionaryProvider dictionaries() {
    return NO_DICTIONARIES;
  }
}
