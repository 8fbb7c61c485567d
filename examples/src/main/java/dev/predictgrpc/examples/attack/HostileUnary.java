/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Unary {@code Predict} calls as an attacker makes them: any model name, any bytes, optionally
 * compressed, and the outcome as a {@link Status} instead of an exception. Holds no state; safe
 * from any thread.
 */
public final class HostileUnary {
  private HostileUnary() {}

  /** A request naming {@code model} and carrying {@code arrowIpc} as is. */
  public static PredictRequest request(String model, ByteString arrowIpc) {
    return PredictRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(model))
        .setArrowIpc(arrowIpc)
        .build();
  }

  /**
   * Starts one call and returns its status when it ends (OK with the response dropped).
   *
   * @param gzip whether to compress the request with gzip (the server accepts it)
   */
  public static CompletableFuture<Status> start(
      Channel channel, PredictRequest request, boolean gzip, Duration deadline) {
    CallOptions options =
        CallOptions.DEFAULT.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
    if (gzip) {
      options = options.withCompression("gzip");
    }
    ClientCall<PredictRequest, PredictResponse> call =
        channel.newCall(PredictionServiceGrpc.getPredictMethod(), options);
    CompletableFuture<Status> status = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onClose(Status closed, Metadata trailers) {
            status.complete(closed);
          }
        },
        new Metadata());
    call.request(1);
    call.setMessageCompression(gzip);
    call.sendMessage(request);
    call.halfClose();
    return status;
  }

  /** Makes one call and waits for its status. */
  public static Status call(
      Channel channel, PredictRequest request, boolean gzip, Duration deadline) {
    return start(channel, request, gzip, deadline).join();
  }
}
