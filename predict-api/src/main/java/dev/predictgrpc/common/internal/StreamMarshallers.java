/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ChunkPool;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import io.grpc.MethodDescriptor;
import org.jspecify.annotations.Nullable;

/**
 * The {@code PredictStream} method with {@link ZeroCopyMarshaller}s, for the server and the client.
 * The bytes on the wire are exactly those of the generated method; only parsing changes. Each
 * factory call returns a new marshaller, which holds the bytes of the messages it received until
 * they are taken. Thread-safe.
 */
public final class StreamMarshallers {
  private StreamMarshallers() {}

  /** Receives request chunks ({@code PredictStreamRequest.chunk}) without copying them. */
  public static ZeroCopyMarshaller<PredictStreamRequest> requests() {
    return requests(null);
  }

  /**
   * As {@link #requests()}; chunks the transport cannot expose are copied into arrays from {@code
   * copyPool} rather than parsed into garbage (see {@link ZeroCopyMarshaller}).
   */
  public static ZeroCopyMarshaller<PredictStreamRequest> requests(@Nullable ChunkPool copyPool) {
    return new ZeroCopyMarshaller<>(
        PredictStreamRequest.getDefaultInstance(),
        PredictStreamRequest.CHUNK_FIELD_NUMBER,
        () -> PredictStreamRequest.newBuilder().setChunk(ByteString.EMPTY).build(),
        copyPool);
  }

  /** Receives response chunks ({@code PredictStreamResponse.chunk}) without copying them. */
  public static ZeroCopyMarshaller<PredictStreamResponse> responses() {
    return responses(null);
  }

  /** As {@link #responses()}, with a pool for chunks the transport cannot expose. */
  public static ZeroCopyMarshaller<PredictStreamResponse> responses(@Nullable ChunkPool copyPool) {
    return new ZeroCopyMarshaller<>(
        PredictStreamResponse.getDefaultInstance(),
        PredictStreamResponse.CHUNK_FIELD_NUMBER,
        () -> PredictStreamResponse.newBuilder().setChunk(ByteString.EMPTY).build(),
        copyPool);
  }

  /**
   * A pool for {@link #requests(ChunkPool)} or {@link #responses(ChunkPool)}: arrays that hold a
   * whole message carrying a chunk of up to {@code maxChunkBytes} (the chunk, its field tag and
   * its length), so that the peers' default 1 MiB chunks fit.
   */
  public static ChunkPool inboundCopyPool(int maxChunkBytes, int maxIdleArrays) {
    // One tag byte and at most five varint bytes of length.
    return ChunkPool.create(maxChunkBytes + 6, maxIdleArrays);
  }

  /** The generated {@code PredictStream} descriptor with the given marshallers. */
  public static MethodDescriptor<PredictStreamRequest, PredictStreamResponse> predictStream(
      ZeroCopyMarshaller<PredictStreamRequest> requests,
      ZeroCopyMarshaller<PredictStreamResponse> responses) {
    return PredictionServiceGrpc.getPredictStreamMethod().toBuilder(requests, responses).build();
  }
}
