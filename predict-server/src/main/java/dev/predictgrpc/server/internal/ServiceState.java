/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.ChunkPool;
import dev.predictgrpc.common.internal.StreamMarshallers;
import dev.predictgrpc.common.internal.ZeroCopyMarshaller;
import dev.predictgrpc.server.ServerLimits;
import org.apache.arrow.memory.BufferAllocator;

/** What every call of one service shares: models, memory, limits, access rules. Thread-safe. */
final class ServiceState {
  private static final int MAX_IDLE_RESPONSE_ARRAYS = 16;
  /** Few messages need a copy (see ZeroCopyMarshaller), and each is decoded at once. */
  private static final int MAX_IDLE_INBOUND_COPY_ARRAYS = 4;

  final ModelCatalog catalog;
  final BufferAllocator allocator;
  final ServerLimits limits;
  final Access access;
  final StreamLimiter streams;
  final CallAllocators calls;
  /**
   * Receives stream chunks as views of the network buffers (or, when the transport cannot expose
   * them, copies in arrays of a small pool); each must be taken or discarded.
   */
  final ZeroCopyMarshaller<PredictStreamRequest> streamRequests;
  /** Sends stream chunks lent from {@link #responseChunks}, giving them back once written. */
  final ZeroCopyMarshaller<PredictStreamResponse> streamResponses = StreamMarshallers.responses();
  /**
   * Recycles the arrays of big response chunks (and of big batches' tails) across all streams.
   * Each stream has about one in flight at a time (it is written out before the next is encoded),
   * so a few idle arrays serve many streams.
   */
  final ChunkPool responseChunks;

  /**
   * A decoder for one call's input, within every input limit, that checks the input's schema
   * against the model's as soon as it arrives. The caller owns the decoder and must close it.
   */
  ArrowChunkDecoder newDecoder(BufferAllocator callAllocator, CallScorer scorer) {
    return ArrowChunkDecoder.builder(callAllocator)
        .maxMessageBytes(limits.maxMessageBytes())
        .maxMetadataBytes(limits.maxMetadataBytes())
        .maxSchemaFields(limits.maxSchemaFields())
        .maxBatchRows(limits.maxBatchRows())
        .maxStreamBytes(limits.maxStreamBytes())
        .onSchema(scorer::checkInputSchema)
        .build();
  }

  ServiceState(
      ModelCatalog catalog, BufferAllocator allocator, ServerLimits limits, Access access) {
    this.catalog = catalog;
    this.allocator = allocator;
    this.limits = limits;
    this.access = access;
    this.streams = new StreamLimiter(limits.maxConcurrentStreamsPerClient());
    this.calls = new CallAllocators(allocator, limits.maxClientMemoryBytes());
    this.responseChunks = ChunkPool.create(limits.maxChunkBytes(), MAX_IDLE_RESPONSE_ARRAYS);
    // Clients send 1 MiB chunks unless configured otherwise, whatever this server sends.
    int inboundChunkBytes =
        Math.max(limits.maxChunkBytes(), ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES);
    this.streamRequests =
        StreamMarshallers.requests(
            StreamMarshallers.inboundCopyPool(inboundChunkBytes, MAX_IDLE_INBOUND_COPY_ARRAYS));
  }
}
