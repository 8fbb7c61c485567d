/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A client call driven by hand, as a misbehaving client would: started, then given messages (or
 * none) only when the test says. Records the final status. Thread-safe.
 */
final class RawCall<ReqT, RespT> {
  final ClientCall<ReqT, RespT> call;
  private final CountDownLatch done = new CountDownLatch(1);
  private final List<RespT> messages = Collections.synchronizedList(new ArrayList<>());
  private volatile @Nullable Status status;

  private RawCall(ClientCall<ReqT, RespT> call) {
    this.call = call;
  }

  /**
   * Starts a call of {@code method} with a 60 s deadline (a safety net: the server's limits must
   * end it long before) and asks for responses; sends nothing.
   *
   * <p>The call is made as a bidirectional stream whatever {@code method}'s type: grpc-java holds
   * back the headers of a call whose client sends one message until that message, so a unary call
   * that never sends one would never reach the server. The server goes by the method's name and
   * treats the call as what its service declares.
   */
  static <ReqT, RespT> RawCall<ReqT, RespT> start(
      Channel channel, MethodDescriptor<ReqT, RespT> method) {
    RawCall<ReqT, RespT> raw = startWithoutReading(channel, method);
    raw.call.request(Integer.MAX_VALUE);
    return raw;
  }

  /**
   * As {@link #start}, but asks for no responses: the client reads nothing until the test calls
   * {@code call.request(n)}, so the server's output backs up once the flow-control windows fill.
   */
  static <ReqT, RespT> RawCall<ReqT, RespT> startWithoutReading(
      Channel channel, MethodDescriptor<ReqT, RespT> method) {
    MethodDescriptor<ReqT, RespT> asStream =
        method.toBuilder().setType(MethodDescriptor.MethodType.BIDI_STREAMING).build();
    RawCall<ReqT, RespT> raw =
        new RawCall<>(
            channel.newCall(asStream, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS)));
    raw.call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(RespT message) {
            raw.messages.add(message);
          }

          @Override
          public void onClose(Status s, Metadata trailers) {
            raw.status = s;
            raw.done.countDown();
          }
        },
        new Metadata());
    return raw;
  }

  /** The responses received so far. */
  List<RespT> messages() {
    synchronized (messages) {
      return List.copyOf(messages);
    }
  }

  boolean isDone() {
    return done.getCount() == 0;
  }

  /** Waits up to {@code seconds} for the call to end and returns its status. */
  Status awaitStatus(long seconds) throws InterruptedException {
    assertThat(done.await(seconds, TimeUnit.SECONDS))
        .as("the call ended within %s s", seconds)
        .isTrue();
    return status;
  }
}
