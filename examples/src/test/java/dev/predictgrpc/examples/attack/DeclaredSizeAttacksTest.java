/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import static dev.predictgrpc.examples.attack.StatusAssertions.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Input that declares far more than it carries: batches claiming 2^31-1 values per column, empty
 * struct columns whose bitmaps Arrow would size from the claim, headers listing millions of
 * buffers, schemas of a million and a half fields. Each must be refused for a few kilobytes of
 * server memory, before anything is allocated for what it declares.
 */
class DeclaredSizeAttacksTest {
  private static final long BUDGET = 96L << 20;
  private static final int INT_MAX = Integer.MAX_VALUE;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private AttackHarness start() throws Exception {
    return AttackHarness.start(arrow.allocator(), AttackServer.smallBudget(BUDGET).build());
  }

  /** The same input as a unary call and as a stream; both statuses are tallied and returned. */
  private static Status[] sendBothWays(
      AttackHarness h, ManagedChannel channel, String model, ByteString input) {
    Status unary =
        HostileUnary.call(
            channel, HostileUnary.request(model, input), false, Duration.ofSeconds(20));
    Status stream = HostileStream.send(channel, model, input, 64 << 10).join();
    h.outcome.add(unary);
    h.outcome.add(stream);
    return new Status[] {unary, stream};
  }

  /** Sends {@code input} over and over, from a few calls at once, for about a second. */
  private static void repeat(
      AttackHarness h, ManagedChannel channel, String model, ByteString input)
      throws InterruptedException {
    AttackLoop.run(
        Duration.ofMillis(800),
        2_000,
        4,
        h.outcome,
        () ->
            HostileUnary.start(
                channel, HostileUnary.request(model, input), false, Duration.ofSeconds(20)));
  }

  private static void assertCheapAndHarmless(AttackHarness.Report report, long arrowBound) {
    assertThat(report.peaks().arrowBytes())
        .as("server Arrow memory while refusing")
        .isLessThanOrEqualTo(arrowBound);
    assertThat(report.allocatorPeakBytes())
        .as("the service allocator's peak")
        .isLessThanOrEqualTo(arrowBound);
    assertThat(report.heapGrowthBytes()).as("heap growth").isLessThan(64L << 20);
    assertThat(report.client().failures()).as(report.client().summary()).isZero();
    assertThat(report.client().calls()).isPositive();
  }

  @Test
  void batchesDeclaringTwoBillionValuesPerColumn_areRefusedBeforeAllocating() throws Exception {
    try (AttackHarness h = start()) {
      ManagedChannel channel = h.channel();
      // 64 columns of 2^31-1 values: Arrow would size 16 GiB of validity bitmaps from the claim.
      ByteString overRowLimit = HostileIpc.rowsDeclared(64, INT_MAX, INT_MAX);
      ByteString nodesOverRows = HostileIpc.rowsDeclared(64, 8, INT_MAX);
      ByteString atRowLimit = HostileIpc.rowsDeclared(64, 4 << 20, 4 << 20);

      for (Status status : sendBothWays(h, channel, "echo", overRowLimit)) {
        assertRefused(
            status, Status.Code.RESOURCE_EXHAUSTED, "2147483647 rows", "maxBatchRows=4194304");
      }
      for (Status status : sendBothWays(h, channel, "echo", nodesOverRows)) {
        assertRefused(
            status,
            Status.Code.INVALID_ARGUMENT,
            "record batch 0 has 8 rows but its field node 0 declares 2147483647");
      }
      for (Status status : sendBothWays(h, channel, "echo", atRowLimit)) {
        assertRefused(
            status,
            Status.Code.INVALID_ARGUMENT,
            "validity bitmaps would take 33554432 bytes",
            "body of only 2048 bytes");
      }
      repeat(h, channel, "echo", overRowLimit);
      repeat(h, channel, "echo", atRowLimit);
      AttackHarness.Report report = h.finish("2^31-1 values per column (64 columns, ~3 KB each)");

      assertThat(h.outcome.count(Status.Code.OK)).isZero();
      assertCheapAndHarmless(report, 1 << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void emptyStructColumns_areRefusedBeforeArrowSizesTheirBitmaps() throws Exception {
    try (AttackHarness h = start()) {
      ManagedChannel channel = h.channel();
      // 1,000 columns x 4M rows: 16 bytes of header per column, 512 KiB of bitmap each in Arrow.
      ByteString structs = HostileIpc.emptyStructs(1_000, 4 << 20);

      for (Status status : sendBothWays(h, channel, "echo", structs)) {
        assertRefused(
            status,
            Status.Code.INVALID_ARGUMENT,
            "validity bitmaps would take 524288000 bytes",
            "body of only 0 bytes");
      }
      repeat(h, channel, "echo", structs);
      AttackHarness.Report report = h.finish("1,000 empty struct columns of 4M rows (~60 KB)");

      assertThat(h.outcome.count(Status.Code.OK)).isZero();
      assertCheapAndHarmless(report, 1 << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void declaredSchemaModel_refusesAMismatchedSchemaBeforeAnyBatch() throws Exception {
    try (AttackHarness h = start()) {
      ManagedChannel channel = h.channel();
      ByteString amplified = HostileIpc.rowsDeclared(64, 4 << 20, 4 << 20);

      for (Status status : sendBothWays(h, channel, "score", amplified)) {
        assertRefused(
            status, Status.Code.INVALID_ARGUMENT, "model 'score' needs column 'x'", "lacks");
      }
      repeat(h, channel, "score", amplified);
      AttackHarness.Report report = h.finish("amplified batch to a declared-schema model");

      assertThat(h.outcome.count(Status.Code.OK)).isZero();
      assertCheapAndHarmless(report, 1 << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void headersListingMillionsOfBuffers_areRefusedBeforeTheyAreSliced() throws Exception {
    try (AttackHarness h = start()) {
      ManagedChannel channel = h.channel();
      // 250,000 buffers really listed: 4 MB of metadata, just under maxMetadataBytes.
      ByteString listed = HostileIpc.buffersListed(250_000);
      // 2 buffers whose vector claims 3.9 million: a reader that slices first walks off the end.
      ByteString claimed = HostileIpc.bufferCountClaimed(3_900_000);

      Status stream = HostileStream.send(channel, "echo", listed, 1 << 20).join();
      h.outcome.add(stream);
      assertRefused(
          stream, Status.Code.INVALID_ARGUMENT, "record batch 0 lists 250000 buffers", "needs 2");
      for (Status status : sendBothWays(h, channel, "echo", claimed)) {
        assertRefused(
            status,
            Status.Code.INVALID_ARGUMENT,
            "record batch 0 lists 3900000 buffers",
            "needs 2");
      }
      for (int i = 0; i < 10; i++) {
        h.outcome.add(HostileStream.send(channel, "echo", listed, 1 << 20).join());
      }
      repeat(h, channel, "echo", claimed);
      AttackHarness.Report report = h.finish("batch headers listing 250,000 and 3.9M buffers");

      assertThat(h.outcome.count(Status.Code.OK)).isZero();
      // The listed header itself is 4 MB of input, held while it arrives.
      assertCheapAndHarmless(report, 16 << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void hugeSchemas_areRefusedByTheMetadataAndFieldLimits() throws Exception {
    ServerLimits limits = AttackServer.smallBudget(BUDGET).build();
    // Built before the harness measures the heap: the attacker's own bytes are not the server's.
    ByteString million = WideSchema.message(1_500_000);
    ByteString wide = WideSchema.message(50_000);
    try (AttackHarness h = AttackHarness.start(arrow.allocator(), limits)) {
      ManagedChannel channel = h.channel();

      HostileStream big = HostileStream.open(channel).header("echo");
      long sent = big.chunks(million, 1 << 20, Duration.ofSeconds(20));
      Status bigStatus = big.awaitStatus(Duration.ofSeconds(20));
      h.outcome.add(bigStatus);
      assertRefused(
          bigStatus,
          Status.Code.RESOURCE_EXHAUSTED,
          "bytes of metadata",
          "maxMetadataBytes=" + limits.maxMetadataBytes());
      for (Status status : sendBothWays(h, channel, "echo", wide)) {
        assertRefused(
            status, Status.Code.RESOURCE_EXHAUSTED, "maxSchemaFields=" + limits.maxSchemaFields());
      }
      AttackHarness.Report report =
          h.finish(
              "schemas of 1.5M fields ("
                  + ServerWatch.mib(million.size())
                  + ", "
                  + ServerWatch.mib(sent)
                  + " sent before the refusal) and 50,000 fields ("
                  + ServerWatch.mib(wide.size())
                  + ")");

      assertThat(sent).as("refused long before the whole schema went out").isLessThan(32 << 20);
      assertCheapAndHarmless(report, 8 << 20);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }
}
