/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.common.internal.StreamMarshallers;
import dev.predictgrpc.common.internal.ZeroCopyMarshaller;
import dev.predictgrpc.server.ServerLimits;
import org.apache.arrow.memory.BufferAllocator;

/** What every call of one service shares: models, memory, limits, access rules. Thread-safe. */
final class ServiceState {
  final ModelRegistry registry;
  final ServedModels served;
  final BufferAllocator allocator;
  final ServerLimits limits;
  final Access access;
  final StreamLimiter streams;
  final CallAllocators calls;
  /** Parses stream chunks as views of the network buffers; each must be released once used. */
  final ZeroCopyMarshaller<PredictStreamRequest> streamRequests =
      StreamMarshallers.requests();

  ServiceState(
      ServedModels served, BufferAllocator allocator, ServerLimits limits, Access access) {
    this.registry = served.registry();
    this.served = served;
    this.allocator = allocator;
    this.limits = limits;
    this.access = access;
    this.streams = new StreamLimiter(limits.maxConcurrentStreamsPerClient());
    this.calls = new CallAllocators(allocator);
  }
}
