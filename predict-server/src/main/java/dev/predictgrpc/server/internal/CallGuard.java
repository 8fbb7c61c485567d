/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.server.ServerLimits;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Ends calls whose client stalls: one that sends no complete request message within {@code
 * firstMessageTimeout} of its start, and one that sends none for {@code streamIdleTimeout} while
 * the server has asked for one and the client has not half-closed. Such a call is closed with
 * DEADLINE_EXCEEDED naming the limit; the service's listener then receives {@code onCancel()}
 * (never {@code onComplete()}) and no further messages, so it releases what the call held.
 *
 * <p>Without it, a client could hold a call open forever by never finishing its first message or by
 * going silent mid-stream, and with it the transport's buffers, a stream slot and, after a stream's
 * header, the call's Arrow memory. gRPC's own deadline is the client's to set, so it does not help
 * against such a client.
 *
 * <p>Time a client spends not reading responses does not count: a server that stops asking for
 * input (flow control) is not waiting for it. Nor does time the service spends handling a message.
 * Limits are checked every {@link CallSweeper#PERIOD}, so a call ends up to that much after its
 * limit.
 *
 * <p>Thread-safe; one instance may guard any number of services and calls.
 */
public final class CallGuard implements ServerInterceptor {
  private final Duration firstMessageTimeout;
  private final Duration streamIdleTimeout;
  private final long firstMessageNanos;
  private final long streamIdleNanos;
  private final Status firstMessageExpired;
  private final Status streamIdleExpired;
  private final Consumer<Object> discard;
  private final CallSweeper sweeper;
  private final LongSupplier clock;

  /**
   * A guard enforcing {@code limits}' {@code firstMessageTimeout} and {@code streamIdleTimeout}.
   *
   * @param discard receives each request message that arrives after the guard closed its call and
   *     so never reaches the service, to release what the message holds (see {@code
   *     ZeroCopyMarshaller}); it must not throw
   */
  public CallGuard(ServerLimits limits, Consumer<Object> discard) {
    this(
        limits.firstMessageTimeout(),
        limits.streamIdleTimeout(),
        discard,
        CallSweeper.shared(),
        System::nanoTime);
  }

  /** As the public constructor, with the sweeper and clock (in nanoseconds) given; for tests. */
  CallGuard(
      Duration firstMessageTimeout,
      Duration streamIdleTimeout,
      Consumer<Object> discard,
      CallSweeper sweeper,
      LongSupplier clock) {
    this.firstMessageTimeout = requireNonNull(firstMessageTimeout, "firstMessageTimeout");
    this.streamIdleTimeout = requireNonNull(streamIdleTimeout, "streamIdleTimeout");
    this.firstMessageNanos = saturatedNanos(firstMessageTimeout);
    this.streamIdleNanos = saturatedNanos(streamIdleTimeout);
    this.discard = requireNonNull(discard, "discard");
    this.sweeper = requireNonNull(sweeper, "sweeper");
    this.clock = requireNonNull(clock, "clock");
    this.firstMessageExpired =
        Status.DEADLINE_EXCEEDED.withDescription(
            "no request message within "
                + describe(firstMessageTimeout)
                + " of the call's start (limit firstMessageTimeout="
                + firstMessageTimeout
                + ")");
    this.streamIdleExpired =
        Status.DEADLINE_EXCEEDED.withDescription(
            "no request message for "
                + describe(streamIdleTimeout)
                + " while the server was waiting for one (limit streamIdleTimeout="
                + streamIdleTimeout
                + ")");
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    GuardedCall<ReqT, RespT> guarded = new GuardedCall<>(call, this, clock.getAsLong());
    sweeper.add(guarded);
    try {
      return guarded.listen(next.startCall(guarded, headers));
    } catch (RuntimeException | Error e) {
      // gRPC closes a call whose handler threw as it starts, without telling any listener.
      sweeper.remove(guarded);
      throw e;
    }
  }

  long now() {
    return clock.getAsLong();
  }

  long firstMessageNanos() {
    return firstMessageNanos;
  }

  long streamIdleNanos() {
    return streamIdleNanos;
  }

  Status firstMessageExpired() {
    return firstMessageExpired;
  }

  Status streamIdleExpired() {
    return streamIdleExpired;
  }

  CallSweeper sweeper() {
    return sweeper;
  }

  void discard(Object message) {
    discard.accept(message);
  }

  @Override
  public String toString() {
    return "CallGuard{firstMessageTimeout="
        + firstMessageTimeout
        + ", streamIdleTimeout="
        + streamIdleTimeout
        + "}";
  }

  /** "10 s", "2 min", "300 ms": how a person would write the limit. */
  static String describe(Duration duration) {
    if (saturatedNanos(duration) == Long.MAX_VALUE) {
      return duration.toString();
    }
    if (duration.toNanos() % 60_000_000_000L == 0) {
      return duration.toMinutes() + " min";
    }
    if (duration.toNanos() % 1_000_000_000L == 0) {
      return duration.toSeconds() + " s";
    }
    if (duration.toNanos() % 1_000_000L == 0) {
      return duration.toMillis() + " ms";
    }
    return duration.toString();
  }

  /** The duration in nanoseconds; a duration too long for a long (292 years) never expires. */
  private static long saturatedNanos(Duration duration) {
    try {
      return duration.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }
}
