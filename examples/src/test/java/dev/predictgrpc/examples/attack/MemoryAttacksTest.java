/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import static dev.predictgrpc.examples.attack.StatusAssertions.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Attacks on the server's memory budget with input the server must hold: batch bodies announced and
 * never completed. The server may hold only what was really sent, must refuse what goes over its
 * budget naming it, and must free everything when the streams end.
 */
class MemoryAttacksTest {
  private static final long BUDGET = 96L << 20;
  private static final Duration IDLE = Duration.ofMillis(1500);

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static ServerLimits limits() {
    return AttackServer.smallBudget(BUDGET).streamIdleTimeout(IDLE).build();
  }

  @Test
  void announcedBodiesThatNeverArrive_holdOnlyWhatWasSent_untilTheIdleTimeout() throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits())) {
      ManagedChannel channel = h.channel();
      List<HostileStream> streams = new ArrayList<>();
      // 39 streams each announce a 62 MB body (2.4 GB in all) and send 600 bytes of it.
      for (int i = 0; i < 39; i++) {
        streams.add(
            HostileStream.open(channel)
                .header("echo")
                .chunk(HostileIpc.announcedBody(4, 3_900_000))
                .chunk(IpcWriter.zeros(600)));
      }
      Thread.sleep(300);
      long heldWhileIdle = h.arrowBytes();
      for (HostileStream stream : streams) {
        h.outcome.add(stream.awaitStatus(Duration.ofSeconds(20)));
      }
      AttackHarness.Report report =
          h.finish("39 streams announcing 62 MB bodies, sending 600 bytes each, then idling");

      assertThat(heldWhileIdle)
          .as("Arrow memory held for 39 x 600 bytes received")
          .isLessThan(1 << 20);
      assertThat(h.outcome.count(Status.Code.DEADLINE_EXCEEDED)).isEqualTo(39);
      assertRefused(
          Status.DEADLINE_EXCEEDED.withDescription(
              h.outcome.firstMessage(Status.Code.DEADLINE_EXCEEDED)),
          Status.Code.DEADLINE_EXCEEDED,
          "streamIdleTimeout=PT1.5S");
      assertThat(report.peaks().arrowBytes()).isLessThan(1 << 20);
      assertThat(report.heapGrowthBytes()).isLessThan(32L << 20);
      assertThat(report.client().failures()).as(report.client().summary()).isZero();
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void heldInputFillingTheBudget_isRefusedNamingIt_andFreedWhenTheStreamsEnd() throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits())) {
      ManagedChannel channel = h.channel();

      BudgetFiller filler = BudgetFiller.fill(channel, 60, Duration.ofSeconds(10), h.outcome);
      long heldAtFull = h.arrowBytes();
      List<Status> ended = filler.awaitEnded(Duration.ofSeconds(20));
      ended.forEach(h.outcome::add);
      AttackHarness.Report report =
          h.finish(
              "filling the budget with partial bodies ("
                  + filler.holding().size()
                  + " streams holding "
                  + ServerWatch.mib(filler.bytesSent())
                  + ")");

      assertThat(h.outcome.count(Status.Code.RESOURCE_EXHAUSTED)).isPositive();
      String refusal = h.outcome.firstMessage(Status.Code.RESOURCE_EXHAUSTED);
      assertRefused(
          Status.RESOURCE_EXHAUSTED.withDescription(refusal),
          Status.Code.RESOURCE_EXHAUSTED,
          "the call to model 'echo:1' does not fit in");
      // The server's budget, or the client's share of it where the server has one.
      assertThat(refusal).containsAnyOf("maxServerMemoryBytes=", "maxClientMemoryBytes=");
      assertThat(heldAtFull).as("held at the attack's peak").isGreaterThan(16L << 20);
      // The allocator's own peak counts only what it granted; a sample of allocatedBytes() may
      // catch a refused request in the instant Arrow adds it before checking the limit.
      assertThat(report.allocatorPeakBytes()).isLessThanOrEqualTo(BUDGET);
      // Every held stream ends with a status: the idle timeout, or a refusal when a piece it
      // sent late found the budget full (on a loaded machine the server may count it later).
      assertThat(ended).hasSize(filler.holding().size());
      assertThat(ended)
          .allMatch(
              s ->
                  s.getCode() == Status.Code.DEADLINE_EXCEEDED
                      || s.getCode() == Status.Code.RESOURCE_EXHAUSTED);
      assertThat(ended).anyMatch(s -> s.getCode() == Status.Code.DEADLINE_EXCEEDED);
      assertThat(report.heapGrowthBytes()).isLessThan(64L << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void heldInputFillingTheBudget_doesNotDenyServiceToOtherClients() throws Exception {
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits())) {
      ManagedChannel channel = h.channel();

      BudgetFiller filler = BudgetFiller.fill(channel, 60, Duration.ofSeconds(10), h.outcome);
      // Three idle timeouts long, the streams send nothing but empty chunks.
      filler.keepAlive(IDLE.dividedBy(3), IDLE.multipliedBy(3), 60);
      int stillOpen = filler.stillOpen();
      long heldAfterKeepAlive = h.arrowBytes();
      filler.cancel();
      AttackHarness.Report report =
          h.finish(
              "filling the budget, then empty chunks for 3 idle timeouts ("
                  + stillOpen
                  + " streams still holding "
                  + ServerWatch.mib(heldAfterKeepAlive)
                  + ")");

      assertThat(report.client().failures()).as(report.client().summary()).isZero();
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }
}
