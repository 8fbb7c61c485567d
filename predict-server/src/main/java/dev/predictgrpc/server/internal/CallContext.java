/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.PredictContext;
import io.grpc.Context;
import io.grpc.Deadline;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/** The {@link PredictContext} of one call. Safe to read from any thread. */
final class CallContext implements PredictContext {
  private static final DictionaryProvider NO_DICTIONARIES =
      new DictionaryProvider.MapDictionaryProvider();

  private final BufferAllocator allocator;
  private final String modelName;
  private final String modelVersion;
  private final Map<String, String> parameters;
  private final Context grpcContext;
  private final String principal = CallIdentity.principal();
  private volatile long batchIndex;
  private volatile DictionaryProvider dictionaries = NO_DICTIONARIES;

  CallContext(
      BufferAllocator allocator,
      String modelName,
      String modelVersion,
      Map<String, String> parameters,
      Context grpcContext) {
    this.allocator = allocator;
    this.modelName = modelName;
    this.modelVersion = modelVersion;
    this.parameters = Map.copyOf(parameters);
    this.grpcContext = grpcContext;
  }

  void beginBatch(long index, DictionaryProvider batchDictionaries) {
    this.batchIndex = index;
    this.dictionaries = batchDictionaries;
  }

  @Override
  public BufferAllocator allocator() {
    return allocator;
  }

  @Override
  public String modelName() {
    return modelName;
  }

  @Override
  public String modelVersion() {
    return modelVersion;
  }

  @Override
  public Map<String, String> parameters() {
    return parameters;
  }

  @Override
  public String principal() {
    return principal;
  }

  @Override
  public @Nullable Deadline deadline() {
    return grpcContext.getDeadline();
  }

  @Override
  public boolean isCancelled() {
    // The server call's context is cancelled on client cancellation and when the deadline passes.
    return grpcContext.isCancelled();
  }

  @Override
  public long batchIndex() {
    return batchIndex;
  }

  @Override
  public DictionaryProvider dictionaries() {
    return dictionaries;
  }

  String label() {
    return modelName + ":" + modelVersion;
  }

  /** The gRPC context of the call: its deadline and cancellation. */
  Context grpcContext() {
    return grpcContext;
  }
}
