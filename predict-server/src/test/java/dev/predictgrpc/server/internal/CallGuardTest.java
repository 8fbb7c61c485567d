/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The call guard's rules, driven event by event: a fake clock, a sweeper run by hand, the
 * listener's callbacks called directly and a strict stand-in for the transport's call. The
 * transport-level behaviour is in {@code TransportLimitsTest}.
 */
class CallGuardTest {
  private static final Duration FIRST = Duration.ofSeconds(10);
  private static final Duration IDLE = Duration.ofMinutes(2);

  private final AtomicLong clock = new AtomicLong(5_000_000_000L);
  private final CallSweeper sweeper = CallSweeper.manual();
  private final List<Object> discarded = Collections.synchronizedList(new ArrayList<>());
  private final CallGuard guard = new CallGuard(FIRST, IDLE, discarded::add, sweeper, clock::get);
  private final RecordingServerCall transport = new RecordingServerCall();

  /** The service behind the guard: records what reaches its listener. */
  private static final class Service implements ServerCallHandler<String, String> {
    final List<String> events = Collections.synchronizedList(new ArrayList<>());
    final int initialRequest;
    volatile @Nullable ServerCall<String, String> call;

    /** Runs inside onMessage, after the message is recorded. */
    volatile Runnable duringMessage = () -> {};

    Service(int initialRequest) {
      this.initialRequest = initialRequest;
    }

    @Override
    public ServerCall.Listener<String> startCall(
        ServerCall<String, String> call, Metadata headers) {
      this.call = call;
      if (initialRequest > 0) {
        call.request(initialRequest);
      }
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(String message) {
          events.add("message:" + message);
          duringMessage.run();
        }

        @Override
        public void onHalfClose() {
          events.add("halfClose");
        }

        @Override
        public void onCancel() {
          events.add("cancel");
        }

        @Override
        public void onComplete() {
          events.add("complete");
        }

        @Override
        public void onReady() {
          events.add("ready");
        }
      };
    }
  }

  private ServerCall.Listener<String> start(Service service) {
    return guard.interceptCall(transport, new Metadata(), service);
  }

  private void advance(Duration duration) {
    clock.addAndGet(duration.toNanos());
  }

  private void sweep() {
    sweeper.sweep(clock.get());
  }

  private static final Duration NANO = Duration.ofNanos(1);

  @Test
  void noFirstMessage_closedWithDeadlineExceededNamingTheLimit_exactlyAtTheLimit() {
    Service service = new Service(1);
    start(service);
    assertThat(sweeper.size()).isEqualTo(1);

    advance(FIRST.minus(NANO));
    sweep();
    assertThat(transport.closedWith()).as("open just before the limit").isNull();

    advance(NANO);
    sweep();
    Status status = transport.closedWith();
    assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(status.getDescription())
        .isEqualTo(
            "no request message within 10 s of the call's start (limit"
                + " firstMessageTimeout=PT10S)");
    assertThat(sweeper.size()).as("no longer swept").isZero();
  }

  @Test
  void firstMessageTimeout_countsFromTheStart_evenIfTheServiceRequestedNothing() {
    start(new Service(0));
    advance(FIRST);
    sweep();
    assertThat(transport.closedWith().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void streamIdle_countsOnlyWhileTheServiceHasRequestedAMessage() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    listener.onMessage("header");

    // Nothing requested: the client may stay silent (e.g. the server waits for it to read).
    advance(IDLE.multipliedBy(10));
    sweep();
    assertThat(transport.closedWith()).isNull();

    service.call.request(1);
    advance(IDLE.minus(NANO));
    sweep();
    assertThat(transport.closedWith()).as("open just before the limit").isNull();

    advance(NANO);
    sweep();
    Status status = transport.closedWith();
    assertThat(status.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(status.getDescription())
        .isEqualTo(
            "no request message for 2 min while the server was waiting for one (limit"
                + " streamIdleTimeout=PT2M)");
  }

  @Test
  void streamIdle_restartsWithEachMessage() {
    Service service = new Service(2);
    ServerCall.Listener<String> listener = start(service);
    listener.onMessage("one");
    for (int i = 0; i < 5; i++) {
      advance(IDLE.minus(NANO));
      sweep();
      listener.onMessage("more");
      service.call.request(1);
    }
    assertThat(transport.closedWith()).isNull();
    assertThat(service.events).hasSize(6).doesNotContain("cancel");
  }

  @Test
  void timeTheServiceSpendsOnAMessage_doesNotCount() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    service.duringMessage =
        () -> {
          service.call.request(1); // as StreamCall does before returning
          advance(IDLE.multipliedBy(3)); // a slow model
          sweep();
        };
    listener.onMessage("slow");
    assertThat(transport.closedWith()).as("closed while the service was busy").isNull();

    // The wait begins when the service returns.
    advance(IDLE.minus(NANO));
    sweep();
    assertThat(transport.closedWith()).isNull();
  }

  @Test
  void halfClosedCall_neverExpires() {
    Service service = new Service(5);
    ServerCall.Listener<String> listener = start(service);
    listener.onMessage("request");
    listener.onHalfClose();
    advance(Duration.ofDays(1));
    sweep();
    assertThat(transport.closedWith()).isNull();
  }

  @Test
  void halfCloseWithoutAnyMessage_stopsTheFirstMessageClock() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    listener.onHalfClose();
    advance(Duration.ofDays(1));
    sweep();
    assertThat(transport.closedWith()).isNull();
    assertThat(service.events).containsExactly("halfClose");
  }

  @Test
  void afterTheGuardClosed_noMessageOrHalfCloseReachesTheService_andItGetsOnCancel() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    advance(FIRST);
    sweep();

    // What gRPC may still deliver: messages parsed before it saw the close, then completion.
    listener.onMessage("late");
    listener.onReady();
    listener.onHalfClose();
    listener.onComplete();

    assertThat(service.events).containsExactly("cancel");
    assertThat(discarded).as("dropped messages are released").containsExactly("late");
  }

  @Test
  void afterTheGuardClosed_theServicesSendsAndCloseDoNothing() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    listener.onMessage("header");
    service.call.request(1);
    advance(IDLE);
    sweep();

    // A handler finishing its work late must not fail on a call that is already closed.
    ServerCall<String, String> call = service.call;
    call.sendHeaders(new Metadata());
    call.sendMessage("late output");
    call.setMessageCompression(true);
    call.close(Status.OK, new Metadata());

    assertThat(transport.events()).containsExactly("close:DEADLINE_EXCEEDED");
    assertThat(transport.violations()).isEmpty();
  }

  @Test
  void callTheServiceClosed_isNotClosedAgain_andCompletesNormally() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    service.call.close(Status.INVALID_ARGUMENT.withDescription("bad"), new Metadata());
    assertThat(sweeper.size()).isZero();

    advance(Duration.ofDays(1));
    sweep();
    listener.onComplete();

    assertThat(transport.events()).containsExactly("close:INVALID_ARGUMENT");
    assertThat(service.events).containsExactly("complete");
  }

  @Test
  void clientCancel_passesThrough_andStopsSweeping() {
    Service service = new Service(1);
    ServerCall.Listener<String> listener = start(service);
    listener.onCancel();
    assertThat(sweeper.size()).isZero();
    assertThat(service.events).containsExactly("cancel");
  }

  @Test
  void messageArrivingAsTheLimitPasses_isEitherDeliveredOrDropped_neverBoth() throws Exception {
    for (int round = 0; round < 200; round++) {
      RecordingServerCall transport = new RecordingServerCall();
      List<Object> dropped = Collections.synchronizedList(new ArrayList<>());
      CallSweeper sweeper = CallSweeper.manual();
      CallGuard guard = new CallGuard(FIRST, IDLE, dropped::add, sweeper, clock::get);
      Service service = new Service(1);
      ServerCall.Listener<String> listener =
          guard.interceptCall(transport, new Metadata(), service);
      advance(FIRST);
      long due = clock.get();

      CyclicBarrier go = new CyclicBarrier(2);
      Thread sweeping =
          new Thread(
              () -> {
                await(go);
                sweeper.sweep(due);
              });
      sweeping.start();
      await(go);
      listener.onMessage("racing");
      sweeping.join(10_000);

      boolean delivered = service.events.contains("message:racing");
      boolean closed = transport.closedWith() != null;
      assertThat(delivered).as("round %s: delivered xor dropped", round).isNotEqualTo(closed);
      assertThat(dropped).hasSize(closed ? 1 : 0);
    }
  }

  @Test
  void guardClosingWhileTheServiceSends_neverOverlapsASend_norSendsAfterClose() throws Exception {
    for (int round = 0; round < 100; round++) {
      RecordingServerCall transport = new RecordingServerCall();
      CallSweeper sweeper = CallSweeper.manual();
      CallGuard guard = new CallGuard(FIRST, IDLE, m -> {}, sweeper, clock::get);
      Service service = new Service(1);
      guard.interceptCall(transport, new Metadata(), service);
      advance(FIRST);

      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      CountDownLatch sending = new CountDownLatch(1);
      Thread sender =
          new Thread(
              () -> {
                try {
                  while (!stop.get()) {
                    service.call.sendMessage("output");
                    sending.countDown();
                  }
                  service.call.close(Status.OK, new Metadata());
                } catch (Throwable t) {
                  failure.set(t);
                }
              });
      sender.start();
      assertThat(sending.await(10, TimeUnit.SECONDS)).isTrue();
      sweeper.sweep(clock.get());
      stop.set(true);
      sender.join(10_000);

      assertThat(failure.get()).as("round %s: the service saw no error", round).isNull();
      assertThat(transport.violations()).as("round %s", round).isEmpty();
      assertThat(transport.closedWith().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      List<String> events = transport.events();
      assertThat(events.get(events.size() - 1)).isEqualTo("close:DEADLINE_EXCEEDED");
    }
  }

  @Test
  void serviceAndGuardClosingAtOnce_closeTheCallExactlyOnce() throws Exception {
    for (int round = 0; round < 200; round++) {
      RecordingServerCall transport = new RecordingServerCall();
      CallSweeper sweeper = CallSweeper.manual();
      CallGuard guard = new CallGuard(FIRST, IDLE, m -> {}, sweeper, clock::get);
      Service service = new Service(1);
      ServerCall.Listener<String> listener =
          guard.interceptCall(transport, new Metadata(), service);
      advance(FIRST);
      long due = clock.get();

      CyclicBarrier go = new CyclicBarrier(2);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread closing =
          new Thread(
              () -> {
                try {
                  await(go);
                  service.call.close(Status.OK, new Metadata());
                } catch (Throwable t) {
                  failure.set(t);
                }
              });
      closing.start();
      await(go);
      sweeper.sweep(due);
      closing.join(10_000);
      listener.onComplete();

      assertThat(failure.get()).isNull();
      assertThat(transport.violations()).isEmpty();
      assertThat(transport.events()).hasSize(1);
      boolean guardWon = transport.closedWith().getCode() == Status.Code.DEADLINE_EXCEEDED;
      assertThat(service.events).containsExactly(guardWon ? "cancel" : "complete");
    }
  }

  @Test
  void describe_writesLimitsAsPeopleDo() {
    assertThat(CallGuard.describe(Duration.ofSeconds(10))).isEqualTo("10 s");
    assertThat(CallGuard.describe(Duration.ofMinutes(2))).isEqualTo("2 min");
    assertThat(CallGuard.describe(Duration.ofMillis(300))).isEqualTo("300 ms");
    assertThat(CallGuard.describe(Duration.ofSeconds(90))).isEqualTo("90 s");
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
