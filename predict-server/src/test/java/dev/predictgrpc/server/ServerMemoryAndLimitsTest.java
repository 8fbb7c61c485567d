/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.server.internal.StatusMapper;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The server's memory budget and the limits on what a call may take or return: each refusal is
 * the right status naming the limit, never a model failure, and the server serves the next call
 * with nothing held.
 */
class ServerMemoryAndLimitsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  /** A model that returns its input batch (an echo), so its output grows with the input. */
  private static TestModel echo() {
    return TestModel.of("echo", (ctx, input) -> input);
  }

  /** A model that asks for {@code floats} float32 values of output, whatever its input. */
  private static TestModel greedy(int floats, boolean wrapTheFailure) {
    return TestModel.of(
        "greedy",
        (ctx, input) -> {
          Float4Vector y = new Float4Vector("y", ctx.allocator());
          try {
            y.allocateNew(floats);
          } catch (RuntimeException e) {
            y.close();
            if (wrapTheFailure) {
              throw new IllegalStateException("could not allocate the output", e);
            }
            throw e;
          }
          y.close();
          return TestModel.doubleFirstColumn(ctx, input);
        });
  }

  private void assertStillServes(InProcessPredict p) {
    PredictResponse ok = p.blocking().predict(request("scale", "", Batches.xStream(allocator(), 2)));
    assertThat(Batches.decode(allocator(), ok.getArrowIpc()).rowCounts()).containsExactly(2);
    assertThat(p.service.allocatedBytes()).isZero();
  }

  @Test
  void schemaMismatchWithNoBatch_isInvalidArgument() throws Exception {
    try (InProcessPredict p =
        InProcessPredict.start(
            allocator(),
            TestModel.scale("typed").input(TestModel.floatSchema(true, "x")))) {
      ByteString schemaOnly = Batches.floatStream(allocator(), true, new int[0], "z");

      Status status = statusOf(() -> p.blocking().predict(request("typed", "", schemaOnly)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "typed", "'x'");
      assertStillServes(p);
    }
  }

  @Test
  void unaryOutputOverTheResponseLimit_isResourceExhausted_suggestingPredictStream()
      throws Exception {
    ServerLimits limits = ServerLimits.builder().maxUnaryResponseBytes(64 << 10).build();
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).limits(limits).model(echo()).start()) {
      int[] rows = new int[40];
      java.util.Arrays.fill(rows, 1000); // 40 batches of 4 KB each: 160 KB echoed.
      ByteString input = Batches.floatStream(allocator(), true, rows, "x");

      Status status = statusOf(() -> p.blocking().predict(request("echo", "", input)));

      assertCleanError(
          status,
          Status.Code.RESOURCE_EXHAUSTED,
          "echo",
          "maxUnaryResponseBytes=65536",
          "PredictStream");
      assertStillServes(p);
    }
  }

  @Test
  void modelAllocatingPastTheCallLimit_isResourceExhaustedNamingIt_notAModelFailure()
      throws Exception {
    ServerLimits limits = ServerLimits.builder().maxCallMemoryBytes(1 << 20).build();
    for (boolean wrapped : new boolean[] {false, true}) {
      try (InProcessPredict p =
          InProcessPredict.builder(allocator())
              .limits(limits)
              .model(greedy(10_000_000, wrapped))
              .start()) {
        Status status =
            statusOf(() -> p.blocking().predict(request("greedy", "", Batches.xStream(allocator(), 3))));

        assertCleanError(
            status, Status.Code.RESOURCE_EXHAUSTED, "greedy", "maxCallMemoryBytes=1048576");
        assertThat(status.getDescription()).doesNotContain("failed", "error id");
        assertStillServes(p);
      }
    }
  }

  @Test
  void inputOverTheServerBudget_isResourceExhaustedNamingIt_andSmallCallsStillWork()
      throws Exception {
    // One client may take more than the whole budget here, so the budget is what refuses.
    ServerLimits limits =
        ServerLimits.builder()
            .maxServerMemoryBytes(256 << 10)
            .maxClientMemoryBytes(1 << 20)
            .build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      ByteString big = Batches.xStream(allocator(), 200_000); // An 800 KB batch.

      Status status = statusOf(() -> p.blocking().predict(request("scale", "", big)));

      assertCleanError(
          status, Status.Code.RESOURCE_EXHAUSTED, "scale", "maxServerMemoryBytes=262144");
      assertStillServes(p);
    }
  }

  @Test
  void inputHeldByOneClient_isCappedAtItsShare_andReleasedWhenItsStreamsEnd() throws Exception {
    ServerLimits limits =
        ServerLimits.builder()
            .maxServerMemoryBytes(16 << 20)
            .maxClientMemoryBytes(1 << 20)
            .build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      // A 2 MiB batch sent in 256 KiB pieces: held, undecoded, until all of it has arrived.
      List<ByteString> pieces = Batches.split(Batches.xStream(allocator(), 512 << 10), 256 << 10);
      List<dev.predictgrpc.api.v1.PredictStreamRequest> messages =
          InProcessPredict.messages("scale", pieces);

      Status status = p.stream(messages).awaitStatus();

      assertCleanError(
          status, Status.Code.RESOURCE_EXHAUSTED, "scale", "maxClientMemoryBytes=1048576");
      assertStillServes(p);
    }
  }

  @Test
  void batchTrickledWithEmptyChunks_endsAtMessageArrivalTimeout_andReleasesWhatItHeld()
      throws Exception {
    ServerLimits limits =
        ServerLimits.builder().messageArrivalTimeout(java.time.Duration.ofMillis(300)).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      ByteString batch = Batches.xStream(allocator(), 1 << 20); // A 4 MiB body.
      Collector<dev.predictgrpc.api.v1.PredictStreamResponse> responses = new Collector<>();
      io.grpc.stub.StreamObserver<dev.predictgrpc.api.v1.PredictStreamRequest> requests =
          p.async().predictStream(responses);
      requests.onNext(InProcessPredict.header("scale", ""));
      requests.onNext(InProcessPredict.chunk(batch.substring(0, 100_000)));
      // Empty chunks keep the stream from ever being idle, but bring no byte of the batch.
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
      while (!responses.isDone() && System.nanoTime() < deadline) {
        Thread.sleep(50);
        try {
          requests.onNext(InProcessPredict.chunk(ByteString.EMPTY));
        } catch (RuntimeException e) {
          break; // The call has ended.
        }
      }

      assertCleanError(
          responses.awaitStatus(),
          Status.Code.DEADLINE_EXCEEDED,
          "Arrow IPC message 1",
          "messageArrivalTimeout=PT0.3S");
      assertStillServes(p);
    }
  }

  @Test
  void memoryRefusals_logOneLineAtMostPerInterval_withoutStackTraces() throws Exception {
    List<LogRecord> records = new ArrayList<>();
    Handler capture =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            synchronized (records) {
              records.add(record);
            }
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger logger = Logger.getLogger(StatusMapper.class.getName());
    logger.addHandler(capture);
    ServerLimits limits = ServerLimits.builder().maxServerMemoryBytes(256 << 10).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      ByteString big = Batches.xStream(allocator(), 200_000);
      for (int i = 0; i < 20; i++) {
        Status status = statusOf(() -> p.blocking().predict(request("scale", "", big)));
        assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      }
    } finally {
      logger.removeHandler(capture);
    }
    synchronized (records) {
      assertThat(records).hasSizeLessThanOrEqualTo(2);
      assertThat(records).allSatisfy(r -> assertThat(r.getThrown()).isNull());
    }
  }

  @Test
  void hugeModelName_notFoundMessageIsCapped() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      String name = "m".repeat(20_000);

      Status status =
          statusOf(() -> p.blocking().predict(request(name, "", Batches.xStream(allocator(), 1))));

      assertCleanError(status, Status.Code.NOT_FOUND, "is not served here", "(20000 characters)");
      assertThat(status.getDescription()).hasSizeLessThan(1000);
    }
  }

  @Test
  void thousandsOfExtraColumns_invalidArgumentListsAFewAndCounts() throws Exception {
    String[] names = new String[5001];
    names[0] = "x";
    for (int i = 1; i < names.length; i++) {
      names[i] = "extra_column_with_a_long_name_" + i;
    }
    try (InProcessPredict p =
        InProcessPredict.start(
            allocator(),
            TestModel.scale("typed").input(TestModel.floatSchema(true, "x")))) {
      ByteString input = Batches.floatStream(allocator(), true, new int[] {1}, names);

      Status status = statusOf(() -> p.blocking().predict(request("typed", "", input)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "does not take column(s)", "4992 more");
      assertThat(status.getDescription()).hasSizeLessThan(1000);
      assertStillServes(p);
    }
  }
}
