/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import io.grpc.MethodDescriptor;

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
    return new ZeroCopyMarshaller<>(
        PredictStreamRequest.getDefaultInstance(),
        PredictStreamRequest.CHUNK_FIELD_NUMBER,
        () -> PredictStreamRequest.newBuilder().setChunk(ByteString.EMPTY).build());
  }

  /** Receives response chunks ({@code PredictStreamResponse.chunk}) without copying them. */
  public static ZeroCopyMarshaller<PredictStreamResponse> responses() {
    return new ZeroCopyMarshaller<>(
        PredictStreamResponse.getDefaultInstance(),
        PredictStreamResponse.CHUNK_FIELD_NUMBER,
        () -> PredictStreamResponse.newBuilder().setChunk(ByteString.EMPTY).build());
  }

  /** The generated {@code PredictStream} descriptor with the given marshallers. */
  public static MethodDescriptor<PredictStreamRequest, PredictStreamResponse> predictStream(
      ZeroCopyMarshaller<PredictStreamRequest> requests,
      ZeroCopyMarshaller<PredictStreamResponse> responses) {
    return PredictionServiceGrpc.getPredictStreamMethod().toBuilder(requests, responses).build();
  }
}
