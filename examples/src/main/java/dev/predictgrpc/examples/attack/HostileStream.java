/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One {@code PredictStream} call driven by hand: the attacker decides whether to send a header,
 * which chunks to send and whether ever to half-close. Responses are read and dropped; the call's
 * final status is kept.
 *
 * <p>Thread-safe as far as gRPC's {@link ClientCall} is: send from one thread at a time.
 */
public final class HostileStream {
  private final ClientCall<PredictStreamRequest, PredictStreamResponse> call;
  private final CompletableFuture<Status> status = new CompletableFuture<>();

  private HostileStream(ClientCall<PredictStreamRequest, PredictStreamResponse> call) {
    this.call = call;
  }

  /** Starts a call on {@code channel}; nothing is sent yet beyond the HTTP/2 headers. */
  public static HostileStream open(Channel channel) {
    return open(channel, CallOptions.DEFAULT);
  }

  /** Starts a call with {@code options} (a deadline, compression). */
  public static HostileStream open(Channel channel, CallOptions options) {
    HostileStream stream =
        new HostileStream(channel.newCall(PredictionServiceGrpc.getPredictStreamMethod(), options));
    stream.call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(PredictStreamResponse message) {
            stream.call.request(1);
          }

          @Override
          public void onClose(Status closed, Metadata trailers) {
            stream.status.complete(closed);
          }
        },
        new Metadata());
    stream.call.request(1);
    return stream;
  }

  /**
   * A whole call in one go: the header naming {@code model}, {@code input} in chunks of {@code
   * chunkBytes} (queued without waiting for flow control, so keep the input small), then the
   * half-close.
   *
   * @return the call's status, when it ends
   */
  public static CompletableFuture<Status> send(
      Channel channel, String model, ByteString input, int chunkBytes) {
    HostileStream stream = open(channel).header(model);
    for (int pos = 0; pos < input.size(); pos += chunkBytes) {
      stream.chunk(input.substring(pos, Math.min(input.size(), pos + chunkBytes)));
    }
    return stream.halfClose().status();
  }

  /** Sends the stream's header naming {@code model}. */
  public HostileStream header(String model) {
    call.sendMessage(
        PredictStreamRequest.newBuilder()
            .setHeader(StreamHeader.newBuilder().setModel(ModelSpec.newBuilder().setName(model)))
            .build());
    return this;
  }

  /** Sends one chunk of input as is. */
  public HostileStream chunk(ByteString bytes) {
    call.sendMessage(PredictStreamRequest.newBuilder().setChunk(bytes).build());
    return this;
  }

  /**
   * Sends {@code bytes} in chunks of {@code chunkBytes}, waiting while gRPC's outbound buffer is
   * full (so the attacker's own memory stays bounded), until everything is sent, the call ends or
   * {@code timeout} passes.
   *
   * @return the bytes sent
   */
  public long chunks(ByteString bytes, int chunkBytes, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long sent = 0;
    while (sent < bytes.size() && !status.isDone() && System.nanoTime() < deadline) {
      if (!call.isReady()) {
        Thread.sleep(1);
        continue;
      }
      int end = (int) Math.min(bytes.size(), sent + chunkBytes);
      chunk(bytes.substring((int) sent, end));
      sent = end;
    }
    return sent;
  }

  /** Asks gRPC to compress the messages sent from now on (with the call's compressor). */
  public HostileStream compressMessages() {
    call.setMessageCompression(true);
    return this;
  }

  /** Ends the input (half-close). */
  public HostileStream halfClose() {
    call.halfClose();
    return this;
  }

  /** Cancels the call: the client sends RST_STREAM. */
  public void cancel() {
    call.cancel("attacker cancelled", null);
  }

  /** Whether the call has ended. */
  public boolean isDone() {
    return status.isDone();
  }

  /** The call's final status; completes when the call ends. */
  public CompletableFuture<Status> status() {
    return status;
  }

  /**
   * Waits up to {@code timeout} for the call to end.
   *
   * @return its status, or null if it is still open
   */
  public Status awaitStatus(Duration timeout) throws InterruptedException {
    try {
      return status.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      return null;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause()); // Never: only complete() is used.
    }
  }
}
