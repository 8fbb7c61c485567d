/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;

/**
 * gRPC calls whose messages are arbitrary bytes rather than protobuf: the same methods as the
 * generated stubs, with a marshaller that sends whatever it is given, so a message can be malformed
 * protobuf. Holds no state; safe from any thread.
 */
public final class RawMessages {
  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try (stream) {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  /** {@code PredictStream}, with byte-array messages both ways. */
  public static final MethodDescriptor<byte[], byte[]> PREDICT_STREAM =
      PredictionServiceGrpc.getPredictStreamMethod().toBuilder(BYTES, BYTES).build();

  /**
   * A message no protobuf parser accepts: field 2 ({@code chunk}), length-delimited, with a length
   * running past the message's end.
   */
  public static final byte[] UNPARSABLE = {0x12, (byte) 0xFF, (byte) 0xFF, 0x7F, 1, 2, 3};

  private RawMessages() {}

  /** The bytes of a well-formed stream header naming {@code model}. */
  public static byte[] header(String model) {
    return PredictStreamRequest.newBuilder()
        .setHeader(StreamHeader.newBuilder().setModel(ModelSpec.newBuilder().setName(model)))
        .build()
        .toByteArray();
  }

  /** The bytes of a well-formed chunk message carrying {@code bytes}. */
  public static byte[] chunk(ByteString bytes) {
    return PredictStreamRequest.newBuilder().setChunk(bytes).build().toByteArray();
  }

  /**
   * Opens a {@code PredictStream} call and sends {@code messages} as they are, without
   * half-closing.
   *
   * @return the call's status, when it ends
   */
  public static CompletableFuture<Status> stream(
      Channel channel, CallOptions options, byte[]... messages) {
    ClientCall<byte[], byte[]> call = channel.newCall(PREDICT_STREAM, options);
    CompletableFuture<Status> status = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(byte[] message) {
            call.request(1);
          }

          @Override
          public void onClose(Status closed, Metadata trailers) {
            status.complete(closed);
          }
        },
        new Metadata());
    call.request(1);
    for (byte[] message : messages) {
      call.sendMessage(message);
    }
    return status;
  }
}
