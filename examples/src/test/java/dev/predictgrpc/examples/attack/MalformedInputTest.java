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
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Input that is not what the protocol asks for: other formats, absurd sizes, names and column lists
 * long enough to overflow a status trailer, compressed messages that expand past the limit,
 * requests whose echo outgrows what a client can read. Each gets a short status that names the
 * problem, and costs the server one log line at most.
 */
class MalformedInputTest {
  private static final long BUDGET = 96L << 20;
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private AttackHarness start(ServerLimits limits) throws Exception {
    return AttackHarness.start(arrow.allocator(), limits);
  }

  private static ServerLimits defaults() {
    return AttackServer.smallBudget(BUDGET).build();
  }

  private static Status unary(
      AttackHarness h, ManagedChannel channel, String model, ByteString in) {
    Status status = HostileUnary.call(channel, HostileUnary.request(model, in), false, DEADLINE);
    h.outcome.add(status);
    return status;
  }

  private static Status stream(
      AttackHarness h, ManagedChannel channel, String model, ByteString in) {
    Status status = HostileStream.send(channel, model, in, 64 << 10).join();
    h.outcome.add(status);
    return status;
  }

  private static void assertHarmless(AttackHarness.Report report) {
    assertThat(report.allocatorPeakBytes()).isLessThanOrEqualTo(BUDGET);
    assertThat(report.heapGrowthBytes()).as("heap growth").isLessThan(64L << 20);
    assertThat(report.client().failures()).as(report.client().summary()).isZero();
    assertThat(report.client().calls()).isPositive();
  }

  @Test
  void arrowFilesJsonAndAnAbsurdBodyLength_areRefusedSayingWhatIsWrong() throws Exception {
    try (AttackHarness h = start(defaults())) {
      ManagedChannel channel = h.channel();
      ByteString file = HostileIpc.arrowFile();
      ByteString json = HostileIpc.jsonText();
      ByteString longMax = HostileIpc.bodyLengthDeclared(Long.MAX_VALUE);

      for (Status status :
          new Status[] {unary(h, channel, "echo", file), stream(h, channel, "echo", file)}) {
        assertRefused(
            status, Status.Code.INVALID_ARGUMENT, "an Arrow IPC file", "ArrowStreamWriter");
      }
      for (Status status :
          new Status[] {unary(h, channel, "echo", json), stream(h, channel, "echo", json)}) {
        assertRefused(status, Status.Code.INVALID_ARGUMENT, "not an Arrow IPC stream");
      }
      for (Status status :
          new Status[] {unary(h, channel, "echo", longMax), stream(h, channel, "echo", longMax)}) {
        assertRefused(
            status,
            Status.Code.RESOURCE_EXHAUSTED,
            "a body of 9223372036854775807 bytes",
            "maxMessageBytes=");
        assertThat(status.getDescription()).as("no negative size").doesNotContainPattern("-[0-9]");
      }
      AttackHarness.Report report = h.finish("an Arrow file, JSON text, a Long.MAX body length");

      assertHarmless(report);
      assertThat(h.logs.withStackTraces()).isEmpty();
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void hugeModelNamesAndColumnLists_getCappedMessagesThatReachTheClient() throws Exception {
    try (AttackHarness h = start(defaults())) {
      ManagedChannel channel = h.channel();
      String name = "m".repeat(20_000);
      ByteString input = HostileIpc.validIntStream(3);
      // 9,000 extra columns of 40-character names: a 360,000-character list if echoed in full.
      ByteString extra = HostileIpc.extraColumns(9_000, 40);
      ByteString tooMany = HostileIpc.extraColumns(20_000, 40);

      assertRefused(
          unary(h, channel, name, input),
          Status.Code.NOT_FOUND,
          "is not served here",
          "(20000 characters)");
      assertRefused(
          stream(h, channel, name, input),
          Status.Code.NOT_FOUND,
          "is not served here",
          "(20000 characters)");
      PredictRequest badVersion =
          HostileUnary.request("score", input).toBuilder()
              .setModel(
                  HostileUnary.request("score", input).getModel().toBuilder()
                      .setVersion("v".repeat(20_000)))
              .build();
      Status version = HostileUnary.call(channel, badVersion, false, DEADLINE);
      h.outcome.add(version);
      assertRefused(version, Status.Code.NOT_FOUND, "has no version", "(20000 characters)");
      for (Status status :
          new Status[] {unary(h, channel, "score", extra), stream(h, channel, "score", extra)}) {
        assertRefused(
            status, Status.Code.INVALID_ARGUMENT, "does not take column(s)", "... and 8992 more");
      }
      assertRefused(
          unary(h, channel, "score", tooMany),
          Status.Code.RESOURCE_EXHAUSTED,
          "maxSchemaFields=10000");
      AttackHarness.Report report =
          h.finish("a 20,000-character model name and version, 9,000 and 20,000 extra columns");

      assertHarmless(report);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  /** 16 MiB of zeros: about 16 KB once gzipped, four times the server's 4 MiB message limit. */
  private static final ByteString GZIP_BOMB = IpcWriter.zeros(16 << 20);

  private static void assertGzipBombsRefusedQuietly(AttackHarness h, AttackHarness.Report report) {
    assertThat(h.outcome.count(Status.Code.RESOURCE_EXHAUSTED))
        .as("calls refused as too large: %s", h.outcome)
        .isEqualTo(h.outcome.total());
    assertRefused(
        Status.RESOURCE_EXHAUSTED.withDescription(
            h.outcome.firstMessage(Status.Code.RESOURCE_EXHAUSTED)),
        Status.Code.RESOURCE_EXHAUSTED,
        "4194304");
    assertHarmless(report);
    assertThat(h.logs.withStackTraces()).as("stack traces logged").isEmpty();
    assertThat(h.logs.records()).as("lines logged for 10 refusals").hasSizeLessThanOrEqualTo(2);
  }

  @Test
  void gzipStreamChunksExpandingPastTheInboundLimit_areResourceExhausted_withoutStackTraces()
      throws Exception {
    try (AttackHarness h = start(defaults())) {
      ManagedChannel channel = h.channel();

      for (int i = 0; i < 10; i++) {
        HostileStream stream =
            HostileStream.open(channel, CallOptions.DEFAULT.withCompression("gzip"))
                .compressMessages()
                .header("echo")
                .chunk(GZIP_BOMB);
        h.outcome.add(stream.awaitStatus(DEADLINE));
      }
      AttackHarness.Report report = h.finish("gzip bombs in PredictStream: 16 MiB of zeros, x10");

      assertGzipBombsRefusedQuietly(h, report);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void gzipUnaryRequestsExpandingPastTheInboundLimit_areResourceExhausted_withoutStackTraces()
      throws Exception {
    try (AttackHarness h = start(defaults())) {
      ManagedChannel channel = h.channel();
      PredictRequest request = HostileUnary.request("echo", GZIP_BOMB);

      for (int i = 0; i < 10; i++) {
        h.outcome.add(HostileUnary.call(channel, request, true, DEADLINE));
      }
      AttackHarness.Report report = h.finish("gzip bombs in Predict: 16 MiB of zeros, x10");

      assertGzipBombsRefusedQuietly(h, report);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void streamsEndedByAnUnparsableMessage_releaseTheirStreamSlotsAndMemory() throws Exception {
    try (AttackHarness h = start(defaults())) {
      ManagedChannel channel = h.channel();
      byte[] header = RawMessages.header("echo");
      byte[] schema = RawMessages.chunk(IpcWriter.schema(HostileIpc.INT_SCHEMA));
      byte[] announced = RawMessages.chunk(HostileIpc.announcedBody(4_000_000));
      byte[] mebibyte = RawMessages.chunk(IpcWriter.zeros(1 << 20));
      int streams = h.limits.maxConcurrentStreamsPerClient() + 16;

      // Three streams hold 8 MiB of a 16 MB batch body each when their unparsable message comes.
      for (int i = 0; i < 3; i++) {
        byte[][] messages = new byte[11][];
        messages[0] = header;
        messages[1] = announced;
        Arrays.fill(messages, 2, 10, mebibyte);
        messages[10] = RawMessages.UNPARSABLE;
        h.outcome.add(
            RawMessages.stream(channel, CallOptions.DEFAULT, messages).get(20, TimeUnit.SECONDS));
      }
      // Then more streams than the client may have open, each ended the same way.
      for (int i = 0; i < streams; i++) {
        h.outcome.add(
            RawMessages.stream(channel, CallOptions.DEFAULT, header, schema, RawMessages.UNPARSABLE)
                .get(20, TimeUnit.SECONDS));
      }
      Status after = stream(h, channel, "echo", HostileIpc.validIntStream(3));
      AttackHarness.Report report =
          h.finish((streams + 3) + " streams ended by an unparsable message, then a valid stream");

      assertThat(after.getCode())
          .as("a valid stream after %d broken ones: %s", streams + 3, after)
          .isEqualTo(Status.Code.OK);
      assertThat(h.outcome.count(Status.Code.INVALID_ARGUMENT))
          .as("broken streams refused as invalid: %s", h.outcome)
          .isEqualTo(streams + 3);
      assertRefused(
          Status.INVALID_ARGUMENT.withDescription(
              h.outcome.firstMessage(Status.Code.INVALID_ARGUMENT)),
          Status.Code.INVALID_ARGUMENT,
          "could not be read");
      assertHarmless(report);
      assertThat(h.logs.withStackTraces()).as("stack traces logged").isEmpty();
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }

  @Test
  void echoOfManyOneRowBatches_isStoppedAtTheUnaryResponseLimit() throws Exception {
    ServerLimits limits = AttackServer.smallBudget(BUDGET).maxUnaryResponseBytes(1 << 20).build();
    try (AttackHarness h = start(limits)) {
      ManagedChannel channel = h.channel();
      // About 2.7 MB of request whose echo would be bigger still.
      ByteString batches = HostileIpc.oneRowBatches(15_000);

      for (int i = 0; i < 3; i++) {
        assertRefused(
            unary(h, channel, "echo", batches),
            Status.Code.RESOURCE_EXHAUSTED,
            "maxUnaryResponseBytes=1048576",
            "use PredictStream");
      }
      AttackHarness.Report report =
          h.finish("echo of 15,000 one-row batches (" + ServerWatch.mib(batches.size()) + "), x3");

      assertHarmless(report);
      h.awaitArrowReleased(Duration.ofSeconds(10));
    }
  }
}
