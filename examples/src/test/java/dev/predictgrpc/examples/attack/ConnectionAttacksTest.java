/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import static dev.predictgrpc.examples.attack.StatusAssertions.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Attacks on calls and connections rather than on the Arrow decoder: calls that never deliver a
 * message, streams that go quiet after their header, unary requests stalled one byte short, streams
 * opened and reset as fast as the socket allows, and a flood of slow calls. The limits are
 * shortened here (1.5 s instead of 10 s and 2 min) so the suite stays quick.
 */
class ConnectionAttacksTest {
  private static final long BUDGET = 96L << 20;
  private static final Duration FIRST_MESSAGE = Duration.ofMillis(1500);
  private static final Duration IDLE = Duration.ofMillis(1500);
  private static final Duration WAIT = Duration.ofSeconds(20);

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static ServerLimits.Builder limits() {
    return AttackServer.smallBudget(BUDGET)
        .firstMessageTimeout(FIRST_MESSAGE)
        .streamIdleTimeout(IDLE);
  }

  private static void assertGoodClientUnharmed(AttackHarness.Report report) {
    assertThat(report.client().failures()).as(report.client().summary()).isZero();
    assertThat(report.client().calls()).isPositive();
  }

  /** A valid stream from the attacker's address must work again once its calls have ended. */
  private static void assertStreamsWorkAgain(AttackHarness h, ManagedChannel channel) {
    Status status =
        HostileStream.send(channel, "echo", HostileIpc.validIntStream(3), 1 << 20).join();
    assertThat(status.getCode())
        .as("a stream after the attack: %s", status)
        .isEqualTo(Status.Code.OK);
  }

  @Test
  void streamsThatNeverSendTheirHeader_areCappedPerClient_andEndedByTheFirstMessageTimeout()
      throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits().build())) {
      int perClient = h.limits.maxConcurrentStreamsPerClient();
      List<HostileStream> streams = new ArrayList<>();
      // 300 calls over three connections: each sends its HTTP/2 headers and nothing else.
      for (int c = 0; c < 3; c++) {
        ManagedChannel channel = h.channel();
        for (int i = 0; i < 100; i++) {
          streams.add(HostileStream.open(channel));
        }
      }
      for (HostileStream stream : streams) {
        h.outcome.add(stream.awaitStatus(WAIT));
      }
      AttackHarness.Report report = h.finish("300 PredictStream calls that never send a header");

      assertThat(h.outcome.total()).isEqualTo(300);
      assertThat(h.outcome.count(Status.Code.DEADLINE_EXCEEDED)).isLessThanOrEqualTo(perClient);
      assertThat(h.outcome.count(Status.Code.RESOURCE_EXHAUSTED))
          .isEqualTo(300 - h.outcome.count(Status.Code.DEADLINE_EXCEEDED));
      assertRefused(
          Status.DEADLINE_EXCEEDED.withDescription(
              h.outcome.firstMessage(Status.Code.DEADLINE_EXCEEDED)),
          Status.Code.DEADLINE_EXCEEDED,
          "no request message within 1500 ms",
          "firstMessageTimeout=PT1.5S");
      assertRefused(
          Status.RESOURCE_EXHAUSTED.withDescription(
              h.outcome.firstMessage(Status.Code.RESOURCE_EXHAUSTED)),
          Status.Code.RESOURCE_EXHAUSTED,
          "already has " + perClient + " streams open",
          "maxConcurrentStreamsPerClient=" + perClient);
      // Only the well-behaved client's calls took Arrow memory.
      assertThat(report.peaks().arrowBytes()).isLessThan(1 << 20);
      assertThat(report.heapGrowthBytes()).isLessThan(32L << 20);
      assertGoodClientUnharmed(report);
      assertStreamsWorkAgain(h, h.channel());
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void headerOnlyStreams_holdTheClientsSlotsOnlyUntilTheIdleTimeout() throws Exception {
    // Long enough that on a loaded machine no stream times out before the one more is sent.
    Duration idle = Duration.ofSeconds(3);
    ServerLimits limits = limits().streamIdleTimeout(idle).build();
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits)) {
      ManagedChannel channel = h.channel();
      int perClient = h.limits.maxConcurrentStreamsPerClient();
      List<HostileStream> streams = new ArrayList<>();
      for (int i = 0; i < perClient; i++) {
        streams.add(HostileStream.open(channel).header("echo"));
      }
      Thread.sleep(200);
      Status oneMore =
          HostileStream.send(channel, "echo", HostileIpc.validIntStream(3), 1 << 20).join();
      h.outcome.add(oneMore);
      for (HostileStream stream : streams) {
        h.outcome.add(stream.awaitStatus(WAIT));
      }
      AttackHarness.Report report =
          h.finish(perClient + " header-only streams without a deadline, and one more");

      assertRefused(
          oneMore, Status.Code.RESOURCE_EXHAUSTED, "maxConcurrentStreamsPerClient=" + perClient);
      assertThat(h.outcome.count(Status.Code.DEADLINE_EXCEEDED)).isEqualTo(perClient);
      assertRefused(
          Status.DEADLINE_EXCEEDED.withDescription(
              h.outcome.firstMessage(Status.Code.DEADLINE_EXCEEDED)),
          Status.Code.DEADLINE_EXCEEDED,
          "streamIdleTimeout=" + idle);
      assertThat(report.peaks().arrowBytes()).isLessThan(1 << 20);
      assertGoodClientUnharmed(report);
      assertStreamsWorkAgain(h, channel);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void unaryRequestsStalledOneByteShortOfTheLimit_areEndedByTheFirstMessageTimeout()
      throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits().build())) {
      RawHttp2Connection connection = h.rawConnection();
      // A real request just under the 4 MiB message limit, sent but for its last byte.
      PredictRequest request =
          HostileUnary.request("echo", IpcWriter.zeros(h.limits.maxInboundMessageBytes() - 64));
      byte[] framed = RawHttp2Connection.grpcFrame(request.toByteArray());
      List<RawHttp2Connection.RawCall> calls = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        calls.add(
            connection
                .openCall(RawHttp2Connection.PREDICT_PATH)
                .data(framed, 0, framed.length - 1, false));
      }
      for (RawHttp2Connection.RawCall call : calls) {
        h.outcome.add(call.status().get(WAIT.toSeconds(), TimeUnit.SECONDS));
      }
      AttackHarness.Report report =
          h.finish("40 unary calls of " + framed.length + " bytes stalled one byte short");

      assertThat(h.outcome.count(Status.Code.DEADLINE_EXCEEDED)).isEqualTo(40);
      assertRefused(
          Status.DEADLINE_EXCEEDED.withDescription(
              h.outcome.firstMessage(Status.Code.DEADLINE_EXCEEDED)),
          Status.Code.DEADLINE_EXCEEDED,
          "firstMessageTimeout=PT1.5S");
      assertThat(report.peaks().arrowBytes())
          .as("the transport holds the partial messages, not the Arrow budget")
          .isLessThan(1 << 20);
      assertGoodClientUnharmed(report);
      assertThat(connection.isOpen())
          .as("the attacker's connection itself is not punished")
          .isTrue();
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Disabled(
      "server weakness (on this branch's base and on main at d4a0546): partial unary messages are"
          + " buffered by the gRPC transport outside maxServerMemoryBytes, up to"
          + " maxInboundMessageBytes (4 MiB) per call, maxConcurrentCallsPerConnection (128) calls"
          + " per connection and any number of connections, for firstMessageTimeout (10 s); 100"
          + " calls one byte short of 4 MiB take ~430 MiB of direct memory here, and in a server"
          + " JVM with -XX:MaxDirectMemorySize=256m Netty fails with 'Cannot reserve 2097152 bytes"
          + " of direct buffer memory' (the attack benchmark's stalled-unary row)")
  @Test
  void unaryRequestsStalledOneByteShort_holdTransportMemoryWithinTheBudget() throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits().build())) {
      long directBefore = ServerWatch.directBytes();
      PredictRequest request =
          HostileUnary.request("echo", IpcWriter.zeros(h.limits.maxInboundMessageBytes() - 64));
      byte[] framed = RawHttp2Connection.grpcFrame(request.toByteArray());
      List<RawHttp2Connection.RawCall> calls = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        RawHttp2Connection connection = h.rawConnection();
        for (int i = 0; i < 50; i++) {
          calls.add(
              connection
                  .openCall(RawHttp2Connection.PREDICT_PATH)
                  .data(framed, 0, framed.length - 1, false));
        }
      }
      for (RawHttp2Connection.RawCall call : calls) {
        h.outcome.add(call.status().get(WAIT.toSeconds(), TimeUnit.SECONDS));
      }
      AttackHarness.Report report =
          h.finish("100 unary calls stalled one byte short of 4 MiB, over two connections");

      assertThat(report.peaks().directBytes() - directBefore)
          .as("direct memory taken while the calls were stalled")
          .isLessThanOrEqualTo(BUDGET);
      assertGoodClientUnharmed(report);
    }
  }

  @Test
  void rapidReset_isCutOffByTheServer_andOthersAreServed() throws Exception {
    Logger transport = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty");
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits().build());
        LogCapture transportLog = LogCapture.start(transport, Level.INFO)) {
      int window = h.limits.maxResetStreamsPerWindow();
      RawHttp2Connection connection = h.rawConnection();

      int sent = connection.rapidReset(RawHttp2Connection.PREDICT_STREAM_PATH, 20 * window, WAIT);
      connection.closed().get(WAIT.toSeconds(), TimeUnit.SECONDS);
      h.outcome.add(
          "CONNECTION_CLOSED",
          "by the server after "
              + sent
              + " resets were written; GOAWAY "
              + (connection.goAway().isDone() ? connection.goAway().join() : "lost to the reset"));
      // The same through grpc-java: calls started and cancelled at once, on one channel.
      ManagedChannel channel = h.channel();
      for (int i = 0; i < 2 * window; i++) {
        HostileStream.open(channel).cancel();
      }
      AttackHarness.Report report =
          h.finish("rapid reset: HEADERS + RST_STREAM pairs, then grpc-java start+cancel");

      assertThat(connection.isOpen()).as("the server closed the connection").isFalse();
      assertThat(transportLog.anyMentions("too_many_rststreams"))
          .as("the server's transport says why it closed")
          .isTrue();
      assertThat(report.peaks().arrowBytes()).isLessThan(1 << 20);
      assertGoodClientUnharmed(report);
      assertStreamsWorkAgain(h, h.channel());
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void floodOfSlowCalls_runsOnBoundedThreads_andOthersStillComplete() throws Exception {
    int threads = 8;
    ServerLimits limits = limits().maxServerThreads(threads).build();
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits, 100)) {
      ByteString input = HostileIpc.validIntStream(1);
      List<CompletableFuture<Status>> calls = new ArrayList<>();
      // 96 calls at once to a model that takes 100 ms each: 1.2 s of work for 8 threads.
      for (int c = 0; c < 2; c++) {
        ManagedChannel channel = h.channel();
        for (int i = 0; i < 48; i++) {
          calls.add(
              HostileUnary.start(channel, HostileUnary.request("sleepy", input), false, WAIT));
        }
      }
      for (CompletableFuture<Status> call : calls) {
        h.outcome.add(call.get(WAIT.toSeconds(), TimeUnit.SECONDS));
      }
      AttackHarness.Report report =
          h.finish("96 concurrent calls to a 100 ms model, " + threads + " server threads");

      assertThat(h.outcome.count(Status.Code.OK)).isEqualTo(96);
      assertThat(report.peaks().serverThreads()).isLessThanOrEqualTo(threads);
      assertThat(ServerWatch.serverThreads()).isLessThanOrEqualTo(threads);
      assertGoodClientUnharmed(report);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }
}
