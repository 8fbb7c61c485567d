/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Deadline;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What happens to a server over real loopback TCP when calls go wrong: the client cancels, the
 * client process dies, a deadline passes, a model hangs, the server shuts down mid-stream, the
 * client reads slowly. Every test ends with the server's Arrow memory back at zero and, while it
 * still runs, the server answering a good call.
 *
 * <p>Timeouts are generous (tens of seconds) because they only bound a failure; the tests wait on
 * conditions, not on time, except where a test says so.
 */
class FaultToleranceTest {
  /** How long the server may take to release a finished call's memory. */
  private static final Duration MEMORY_RELEASE = Duration.ofSeconds(5);

  /** An upper bound on any wait that only a failure would exhaust. */
  private static final long PATIENCE_SECONDS = 30;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final CallTracker calls = new CallTracker();

  @AfterEach
  void stopThreads() throws InterruptedException {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(PATIENCE_SECONDS, TimeUnit.SECONDS)).isTrue();
  }

  // ---------------------------------------------------------------------------------------------
  // 1. The client cancels mid-stream.

  @Test
  void predictStream_readerClosesWhileUploadRuns_serverStopsScoringAndFreesMemory()
      throws Exception {
    CountingEchoModel counting = new CountingEchoModel("counting", 2);
    try (PredictServer server = startServer(counting, new TestModels.EchoModel());
        PredictClient client = client(server);
        GeneratedBatches table = GeneratedBatches.endless(arrow.allocator(), 4, 1024)) {
      PredictionStream results = client.predictStream(ModelRef.of("counting"), table);
      try {
        for (int batch = 0; batch < 10; batch++) {
          assertThat(results.next()).isTrue();
          GeneratedBatches.check(results.root(), batch, 4, 1024);
        }
      } finally {
        results.close(); // the input is endless, so its upload is still running
      }
      long uploaded = table.produced();
      assertThat(uploaded)
          .as("batches uploaded when the reader stopped")
          .isGreaterThanOrEqualTo(10);

      awaitStopsGrowing("batches the model scored after the cancel", counting.scored::get);
      assertThat(table.produced()).as("batches uploaded after close()").isEqualTo(uploaded);
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(1);
      assertThat(counting.scored.get()).isLessThanOrEqualTo(uploaded);
      assertServerAnswersGoodCall(server, client);
    }
  }

  @Test
  void openStream_cancelWhileWriterIsWriting_serverStopsScoring_writerAndReaderFail()
      throws Exception {
    CountingEchoModel counting = new CountingEchoModel("counting", 2);
    try (PredictServer server = startServer(counting, new TestModels.EchoModel());
        PredictClient client = client(server)) {
      AtomicReference<Throwable> writerFailure = new AtomicReference<>();
      AtomicLong written = new AtomicLong();
      try (PredictCall call = client.openStream(ModelRef.of("counting"))) {
        Future<?> writer =
            threads.submit(
                () -> {
                  try (GeneratedBatches table =
                      GeneratedBatches.endless(arrow.allocator(), 4, 1024)) {
                    while (true) {
                      call.write(table.next());
                      written.incrementAndGet();
                    }
                  } catch (Throwable t) {
                    writerFailure.set(t);
                  }
                });
        for (int batch = 0; batch < 10; batch++) {
          assertThat(call.results().next()).isTrue();
          GeneratedBatches.check(call.results().root(), batch, 4, 1024);
        }
        call.cancel();

        // Results already received may still be read; then the reader sees the cancellation.
        assertThatThrownBy(
                () -> {
                  while (call.results().next()) {
                    // draining what arrived before the cancel
                  }
                })
            .isInstanceOfSatisfying(
                PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.CANCELLED));
        writer.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
        // The writer stopped by throwing. Which exception is the subject of
        // openStream_cancelRacingWrite_writeThrowsOnlyPredictException (a known bug).
        assertThat(writerFailure.get())
            .as("what write() threw once the call was cancelled")
            .isNotNull();
      }
      long sent = written.get();
      awaitStopsGrowing("batches the model scored after the cancel", counting.scored::get);
      assertThat(counting.scored.get()).isLessThanOrEqualTo(sent + 1);
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(1);
      assertServerAnswersGoodCall(server, client);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 2. The client process is killed mid-stream.

  @Test
  void clientProcessKilledMidStream_serverFreesCallMemory_andKeepsServing() throws Exception {
    CountingEchoModel counting = new CountingEchoModel("counting", 1);
    try (PredictServer server = startServer(counting, new TestModels.EchoModel());
        PredictClient client = client(server)) {
      Process child = startChildClient(server.port(), "counting");
      ChildOutput output = new ChildOutput(child);
      threads.submit(output);
      try {
        assertThat(output.streaming.await(60, TimeUnit.SECONDS))
            .as("the child printed '%s' (output: %s)", StreamingChildClient.STREAMING, output)
            .isTrue();
        long before = counting.scored.get();
        awaitCondition(
            "the model keeps scoring the child's stream",
            () -> counting.scored.get() >= before + 5);
        awaitCondition(
            "the call holds Arrow memory on the server",
            () -> server.service().allocatedBytes() > 0);
        assertThat(child.isAlive()).isTrue();
      } finally {
        child.destroyForcibly();
        assertThat(child.waitFor(PATIENCE_SECONDS, TimeUnit.SECONDS)).isTrue();
      }

      awaitStopsGrowing("batches scored after the client died", counting.scored::get);
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(1);
      assertServerAnswersGoodCall(server, client);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 3. A deadline passes while the model computes.

  @Test
  void withDeadline_passesWhileModelComputes_deadlineExceeded_andModelSeesCancellation()
      throws Exception {
    UntilCancelledModel slow = new UntilCancelledModel();
    try (PredictServer server = startServer(slow, new TestModels.EchoModel());
        PredictClient client = client(server)) {
      // Connect first, so the 300 ms are spent in the model rather than in connection setup.
      assertServerAnswersGoodCall(server, client);
      PredictClient hurried = client.withDeadline(Duration.ofMillis(300));

      try (VectorSchemaRoot input = floats(1, 2, 3)) {
        assertThatThrownBy(() -> hurried.predict("until-cancelled", input).close())
            .isInstanceOfSatisfying(
                PredictException.class,
                e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      }
      assertThat(slow.cancellations.tryAcquire(PATIENCE_SECONDS, TimeUnit.SECONDS))
          .as("the unary call's model saw ctx.isCancelled()")
          .isTrue();

      try (GeneratedBatches table = new GeneratedBatches(arrow.allocator(), 2, 100, 3);
          PredictionStream results = hurried.predictStream(ModelRef.of("until-cancelled"), table)) {
        assertThatThrownBy(results::next)
            .isInstanceOfSatisfying(
                PredictException.class,
                e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      }
      assertThat(slow.cancellations.tryAcquire(PATIENCE_SECONDS, TimeUnit.SECONDS))
          .as("the stream's model saw ctx.isCancelled()")
          .isTrue();
      assertThat(slow.deadlines).as("the deadline each call's model saw").hasSize(2);
      assertThat(slow.deadlines).allSatisfy(d -> assertThat(d).isNotNull());

      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(2);
      assertServerAnswersGoodCall(server, client);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 4. A model hangs on one call, ignoring cancellation.

  @Test
  void modelHangsIgnoringCancellation_otherCallsServed_hungCallsGetDeadlineExceeded()
      throws Exception {
    HangingModel hanging = new HangingModel(2);
    Duration deadline = Duration.ofSeconds(3);
    try (PredictServer server =
            startServer(hanging, new TestModels.EchoModel(), new TestModels.RowSumModel());
        PredictClient client = client(server)) {
      assertServerAnswersGoodCall(server, client);
      try {
        PredictClient patient = client.withDeadline(deadline);
        Future<Outcome> hungUnary =
            threads.submit(
                () -> {
                  long start = System.nanoTime();
                  try (VectorSchemaRoot input = floats(1, 2)) {
                    patient.predict("hanging", input).close();
                    return new Outcome(null, System.nanoTime() - start);
                  } catch (PredictException e) {
                    return new Outcome(e, System.nanoTime() - start);
                  }
                });
        Future<Outcome> hungStream =
            threads.submit(
                () -> {
                  long start = System.nanoTime();
                  try (GeneratedBatches table = new GeneratedBatches(arrow.allocator(), 2, 10, 2);
                      PredictionStream results =
                          patient.predictStream(ModelRef.of("hanging"), table)) {
                    while (results.next()) {
                      // Nothing should arrive.
                    }
                    return new Outcome(null, System.nanoTime() - start);
                  } catch (PredictException e) {
                    return new Outcome(e, System.nanoTime() - start);
                  }
                });
        assertThat(hanging.entered.await(PATIENCE_SECONDS, TimeUnit.SECONDS))
            .as("both calls are inside the hanging model")
            .isTrue();

        // While both calls hang, the server keeps serving others, in parallel.
        List<Future<?>> others = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          int n = i;
          others.add(threads.submit(() -> echoRoundTrip(client, 10 + n)));
        }
        for (int i = 0; i < 3; i++) {
          others.add(threads.submit(() -> streamRoundTrip(client, "echo", 10, 500)));
        }
        for (Future<?> other : others) {
          other.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
        }
        assertThat(hanging.release.getCount()).as("the model still hangs").isEqualTo(1);

        for (Future<Outcome> hung : List.of(hungUnary, hungStream)) {
          Outcome outcome = hung.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
          assertThat(outcome.failure)
              .isNotNull()
              .satisfies(e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
          // The one timing assertion: it fails at the deadline, not before, and not long after.
          assertThat(Duration.ofNanos(outcome.nanos))
              .isGreaterThanOrEqualTo(deadline.minusMillis(50))
              .isLessThan(deadline.plusSeconds(10));
        }
        assertThat(hanging.release.getCount()).as("the model still hangs").isEqualTo(1);
      } finally {
        hanging.release.countDown();
      }
      assertThat(hanging.returned.await(PATIENCE_SECONDS, TimeUnit.SECONDS)).isTrue();
      assertThat(hanging.cancelledOnWaking)
          .as("each hung call was cancelled when the model woke")
          .containsExactly(true, true);
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(2);
      assertServerAnswersGoodCall(server, client);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 5. Graceful shutdown with streams in flight.

  @Test
  void shutdown_withStreamsInFlight_theyCompleteFully_newCallsUnavailable_serverTerminates()
      throws Exception {
    int streams = 3;
    int batches = 20;
    int gateAt = 5;
    GatedSlowEchoModel slow = new GatedSlowEchoModel(20, gateAt, streams);
    try (PredictServer server = startServer(slow, new TestModels.EchoModel());
        PredictClient client = client(server)) {
      assertServerAnswersGoodCall(server, client);
      List<Future<Long>> inFlight = new ArrayList<>();
      for (int i = 0; i < streams; i++) {
        inFlight.add(threads.submit(() -> streamRoundTrip(client, "slow-echo", batches, 1000)));
      }
      try {
        // Every stream is at batch 5 of 20 when the shutdown starts.
        assertThat(slow.parked.await(PATIENCE_SECONDS, TimeUnit.SECONDS)).isTrue();
        server.shutdown();

        // A client that connects now is refused...
        try (PredictClient late = client(server);
            VectorSchemaRoot input = floats(1)) {
          assertThatThrownBy(() -> late.predict("echo", input).close())
              .isInstanceOfSatisfying(
                  PredictException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
        }
        // ...and so, once it has seen the server's GOAWAY, is a new call on the open connection.
        // A call that crosses the GOAWAY on the wire is legitimately still served, hence the loop.
        awaitCondition(
            "a new call on the existing client fails with UNAVAILABLE",
            () -> {
              try (VectorSchemaRoot input = floats(7)) {
                try (VectorSchemaRoot output = client.predict("echo", input)) {
                  assertThat(((Float4Vector) output.getVector(0)).get(0)).isEqualTo(7f);
                  return false;
                }
              } catch (PredictException e) {
                assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE);
                return true;
              }
            });
        assertThat(slow.scored.get())
            .as("no stream went past the gate yet")
            .isLessThanOrEqualTo((long) streams * gateAt);
      } finally {
        slow.gate.countDown();
      }
      for (Future<Long> stream : inFlight) {
        assertThat(stream.get(PATIENCE_SECONDS, TimeUnit.SECONDS))
            .as("results of a stream in flight at shutdown")
            .isEqualTo(batches);
      }
      assertThat(server.awaitTermination(Duration.ofSeconds(PATIENCE_SECONDS))).isTrue();
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(0);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // 6. A slow consumer.

  @Test
  void slowReader_serverDoesNotBufferAhead_memoryBounded_allResultsCorrect() throws Exception {
    int columns = 16;
    int rows = 65_536; // 4 MiB of float32 per batch
    int batches = 64; // 256 MiB in all
    long bound = 12L << 20; // three batches, as in LargeStreamOverTcpTest
    try (PredictServer server = startServer(new TestModels.EchoModel());
        PredictClient client = client(server);
        GeneratedBatches table = new GeneratedBatches(arrow.allocator(), columns, rows, batches);
        PredictionStream results = client.predictStream(ModelRef.of("echo"), table)) {
      long maxAhead = 0;
      int batch = 0;
      while (results.next()) {
        GeneratedBatches.check(results.root(), batch, columns, rows);
        if (batch < 10) {
          Thread.sleep(50);
        }
        batch++;
        maxAhead = Math.max(maxAhead, table.produced() - batch);
      }
      assertThat(batch).isEqualTo(batches);
      long serverPeak = server.service().peakAllocatedBytes();
      System.out.printf(
          "slow reader: server peak Arrow memory %.1f MiB (bound %d MiB), input at most %d batches"
              + " ahead of the reader%n",
          serverPeak / 1048576.0, bound >> 20, maxAhead);
      assertThat(serverPeak).as("server peak Arrow memory").isLessThan(bound);
      // Flow control, not timing: the upload can run ahead of the reader only by what the HTTP/2
      // windows and the client's prefetch hold, a few batches (3 measured), never the whole table.
      // The bound stays well under the client's 64 MiB replay buffer (about 15 of these batches),
      // which would also stop the upload if the server buffered everything.
      assertThat(maxAhead).as("input batches uploaded ahead of the reader").isLessThan(10);
      assertServerCallsEnded(server);
      assertThat(calls.cancelled).as("calls the server saw cancelled").hasValue(0);
      assertServerAnswersGoodCall(server, client);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Known bugs: each test fails on the current client and server, and is disabled so that the
  // suite stays green until the fix lands. Run them with
  // -Djunit.jupiter.conditions.deactivate=org.junit.*DisabledCondition

  @Test
  void openStream_cancelWhileWriterBlocked_writerFailsWithoutAnyoneReading() throws Exception {
    HangingModel hanging = new HangingModel(1);
    try (PredictServer server = startServer(hanging, new TestModels.EchoModel());
        PredictClient client = client(server)) {
      try {
        AtomicLong written = new AtomicLong();
        try (PredictCall call = client.openStream(ModelRef.of("hanging"))) {
          Future<Throwable> writer =
              threads.submit(
                  () -> {
                    try (GeneratedBatches table =
                        GeneratedBatches.endless(arrow.allocator(), 4, 4096)) {
                      while (true) {
                        call.write(table.next());
                        written.incrementAndGet();
                      }
                    } catch (Throwable t) {
                      return t;
                    }
                  });
          assertThat(hanging.entered.await(PATIENCE_SECONDS, TimeUnit.SECONDS)).isTrue();
          // The model holds batch 0, so the server reads no more: the writer ends up blocked.
          awaitStopsGrowing("batches written while the model hangs", written::get);
          call.cancel(); // from this thread, while nobody reads the results
          Throwable failure;
          try {
            failure = writer.get(10, TimeUnit.SECONDS);
          } catch (TimeoutException e) {
            throw new AssertionError(
                "write() is still blocked 10 s after cancel() ("
                    + written.get()
                    + " batches written); only reading the results or close() releases it");
          }
          assertThat(failure).isInstanceOf(PredictException.class);
        } // close() releases a writer the assertion above left blocked
      } finally {
        hanging.release.countDown();
      }
      assertServerCallsEnded(server);
      assertServerAnswersGoodCall(server, client);
    }
  }

  @Test
  void openStream_cancelRacingWrite_writeThrowsOnlyPredictException() throws Exception {
    int rounds = 200;
    Map<String, Integer> wrongExceptions = new TreeMap<>();
    try (PredictServer server = startServer(new TestModels.EchoModel());
        PredictClient client = client(server)) {
      for (int i = 0; i < rounds; i++) {
        try (PredictCall call = client.openStream(ModelRef.of("echo"))) {
          Future<Throwable> writer =
              threads.submit(
                  () -> {
                    try (GeneratedBatches table =
                        GeneratedBatches.endless(arrow.allocator(), 1, 64)) {
                      while (true) {
                        call.write(table.next());
                      }
                    } catch (Throwable t) {
                      return t;
                    }
                  });
          for (int k = 0; k < 3; k++) {
            assertThat(call.results().next()).isTrue();
          }
          call.cancel();
          try {
            while (call.results().next()) {
              // draining what arrived before the cancel
            }
          } catch (PredictException expected) {
            assertThat(expected.code()).isEqualTo(Status.Code.CANCELLED);
          }
          Throwable failure = writer.get(PATIENCE_SECONDS, TimeUnit.SECONDS);
          if (!(failure instanceof PredictException)) {
            wrongExceptions.merge(String.valueOf(failure), 1, Integer::sum);
          }
        }
      }
      assertThat(wrongExceptions)
          .as("what write() threw, other than PredictException, in %d cancels", rounds)
          .isEmpty();
      assertServerCallsEnded(server);
      assertServerAnswersGoodCall(server, client);
    }
  }

  @Test
  void shutdownThenClose_logsNoWarning() throws Exception {
    List<LogRecord> warnings = new CopyOnWriteArrayList<>();
    Handler capture =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
              warnings.add(record);
            }
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger root = Logger.getLogger("");
    root.addHandler(capture);
    try {
      PredictServer server = startServer(new TestModels.EchoModel());
      try (PredictClient client = client(server)) {
        echoRoundTrip(client, 3);
      }
      server.shutdown();
      assertThat(server.awaitTermination(Duration.ofSeconds(PATIENCE_SECONDS))).isTrue();
      server.close(); // as try-with-resources does after a shutdown hook has run
    } finally {
      root.removeHandler(capture);
    }
    assertThat(warnings)
        .extracting(r -> r.getLoggerName() + ": " + r.getMessage())
        .as("warnings logged by shutdown() then close()")
        .isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers.

  private PredictServer startServer(ModelService... models) throws IOException {
    PredictServer.Builder builder =
        PredictServer.builder(arrow.allocator())
            .bindAddress("127.0.0.1")
            .port(0)
            .shutdownGracePeriod(Duration.ofSeconds(5))
            .intercept(calls);
    for (ModelService model : models) {
      builder.addModel(model);
    }
    return builder.build().start();
  }

  private PredictClient client(PredictServer server) {
    return PredictClient.builder("127.0.0.1:" + server.port(), arrow.allocator()).build();
  }

  private VectorSchemaRoot floats(float... values) {
    return Batches.builder(arrow.allocator()).float32("x", values).build();
  }

  private void assertServerAnswersGoodCall(PredictServer server, PredictClient client)
      throws Exception {
    echoRoundTrip(client, 3);
    streamRoundTrip(client, "echo", 3, 100);
    assertServerCallsEnded(server);
  }

  /** A unary echo of {@code rows} distinct values, checked. */
  private Void echoRoundTrip(PredictClient client, int rows) {
    float[] values = new float[rows];
    for (int i = 0; i < rows; i++) {
      values[i] = i * 1.5f + rows;
    }
    try (VectorSchemaRoot input = floats(values);
        VectorSchemaRoot output = client.predict("echo", input)) {
      assertThat(output.getRowCount()).isEqualTo(rows);
      Float4Vector x = (Float4Vector) output.getVector("x");
      for (int i = 0; i < rows; i++) {
        assertThat(x.get(i)).isEqualTo(values[i]);
      }
    }
    return null;
  }

  /** Streams a generated table through an echoing model; checks every value; returns batches. */
  private long streamRoundTrip(PredictClient client, String model, int batches, int rows) {
    try (GeneratedBatches table = new GeneratedBatches(arrow.allocator(), 2, rows, batches);
        PredictionStream results = client.predictStream(ModelRef.of(model), table)) {
      long batch = 0;
      while (results.next()) {
        GeneratedBatches.check(results.root(), batch, 2, rows);
        batch++;
      }
      assertThat(batch).isEqualTo(batches);
      return batch;
    }
  }

  /**
   * Waits until the server has ended every call it started (gRPC reported each one complete or
   * cancelled), then checks that their Arrow memory is back to zero.
   */
  private void assertServerCallsEnded(PredictServer server) throws InterruptedException {
    awaitCondition("the server has ended every call (" + calls + ")", () -> calls.open() == 0);
    assertServerMemoryReturnsToZero(server);
  }

  private static void assertServerMemoryReturnsToZero(PredictServer server)
      throws InterruptedException {
    long deadline = System.nanoTime() + MEMORY_RELEASE.toNanos();
    while (server.service().allocatedBytes() != 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(server.service().allocatedBytes())
        .as("server Arrow memory %s after the calls ended", MEMORY_RELEASE)
        .isZero();
  }

  /**
   * Waits until a counter holds still for half a second, failing if it keeps moving. A counter of
   * work on an endless input moves forever unless the server really stopped the call. (Memory at
   * zero alone does not show that: between two batches a live call may hold none.)
   */
  private static void awaitStopsGrowing(String what, LongSupplier counter)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_SECONDS);
    long last = counter.getAsLong();
    while (true) {
      Thread.sleep(500);
      long now = counter.getAsLong();
      if (now == last) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(what + " still growing: " + last + " -> " + now);
      }
      last = now;
    }
  }

  private static void awaitCondition(String what, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_SECONDS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  private static Process startChildClient(int port, String model) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>();
    command.add(java.toString());
    command.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
    if (Runtime.version().feature() >= 24) {
      command.add("-Dio.netty.noUnsafe=false");
      command.add("--sun-misc-unsafe-memory-access=allow");
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.add("-Xmx256m");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(StreamingChildClient.class.getName());
    command.add("127.0.0.1:" + port);
    command.add(model);
    return new ProcessBuilder(command).redirectErrorStream(true).start();
  }

  /** Drains a child's output, keeping it for failure messages and spotting the ready line. */
  private static final class ChildOutput implements Runnable {
    final CountDownLatch streaming = new CountDownLatch(1);
    private final Process child;
    private final Queue<String> lines = new ConcurrentLinkedQueue<>();

    ChildOutput(Process child) {
      this.child = child;
    }

    @Override
    public void run() {
      try (BufferedReader reader =
          new BufferedReader(
              new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = reader.readLine()) != null) {
          lines.add(line);
          if (line.equals(StreamingChildClient.STREAMING)) {
            streaming.countDown();
          }
        }
      } catch (IOException e) {
        lines.add("(output ended: " + e + ")");
      }
    }

    @Override
    public String toString() {
      return String.join("\n", lines);
    }
  }

  /**
   * Sees every prediction call from the server's side, through its listener: a call that the server
   * cancelled (client cancel, deadline, lost connection) is counted when gRPC reports it, which
   * only happens once the call is over on the server, not merely stalled.
   */
  private static final class CallTracker implements ServerInterceptor {
    final AtomicInteger started = new AtomicInteger();
    final AtomicInteger completed = new AtomicInteger();
    final AtomicInteger cancelled = new AtomicInteger();

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
        ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
      started.incrementAndGet();
      return new ForwardingServerCallListener.SimpleForwardingServerCallListener<ReqT>(
          next.startCall(call, headers)) {
        @Override
        public void onComplete() {
          completed.incrementAndGet();
          super.onComplete();
        }

        @Override
        public void onCancel() {
          cancelled.incrementAndGet();
          super.onCancel();
        }
      };
    }

    int open() {
      return started.get() - completed.get() - cancelled.get();
    }

    @Override
    public String toString() {
      return started + " started, " + completed + " completed, " + cancelled + " cancelled";
    }
  }

  /** How a call that was expected to fail ended, and how long it took. */
  private static final class Outcome {
    final PredictException failure;
    final long nanos;

    Outcome(PredictException failure, long nanos) {
      this.failure = failure;
      this.nanos = nanos;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Models.

  /** Echoes each batch after {@code delayMillis}, counting the batches it scored. */
  static final class CountingEchoModel extends ModelService {
    final AtomicLong scored = new AtomicLong();
    private final String name;
    private final long delayMillis;

    CountingEchoModel(String name, long delayMillis) {
      this.name = name;
      this.delayMillis = delayMillis;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      if (delayMillis > 0) {
        Thread.sleep(delayMillis);
      }
      scored.incrementAndGet();
      return input;
    }
  }

  /** Computes until its call is cancelled, polling ctx.isCancelled() as a model should. */
  static final class UntilCancelledModel extends ModelService {
    final Semaphore cancellations = new Semaphore(0);
    final Queue<Deadline> deadlines = new ConcurrentLinkedQueue<>();

    @Override
    public String name() {
      return "until-cancelled";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      Deadline deadline = ctx.deadline();
      if (deadline != null) {
        deadlines.add(deadline);
      }
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(PATIENCE_SECONDS);
      while (System.nanoTime() < giveUp) {
        if (ctx.isCancelled()) {
          cancellations.release();
          throw new PredictException(Status.Code.CANCELLED, "stopped: the call was cancelled");
        }
        Thread.sleep(5);
      }
      return input; // Never reached in a passing test.
    }
  }

  /** Hangs until the test releases it, ignoring cancellation; echoes once released. */
  static final class HangingModel extends ModelService {
    final CountDownLatch entered;
    final CountDownLatch release = new CountDownLatch(1);
    final CountDownLatch returned;
    final Queue<Boolean> cancelledOnWaking = new ConcurrentLinkedQueue<>();

    /** A model that {@code calls} calls are expected to enter. */
    HangingModel(int calls) {
      this.entered = new CountDownLatch(calls);
      this.returned = new CountDownLatch(calls);
    }

    @Override
    public String name() {
      return "hanging";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      entered.countDown();
      // Bounded only so that a broken test cannot hang the build.
      release.await(2 * PATIENCE_SECONDS, TimeUnit.SECONDS);
      cancelledOnWaking.add(ctx.isCancelled());
      returned.countDown();
      return input;
    }
  }

  /**
   * Echoes each batch after {@code delayMillis}; at batch {@code gateAt} of each stream it waits
   * for {@link #gate}, after counting itself into {@link #parked}.
   */
  static final class GatedSlowEchoModel extends ModelService {
    final CountDownLatch parked;
    final CountDownLatch gate = new CountDownLatch(1);
    final AtomicLong scored = new AtomicLong();
    private final long delayMillis;
    private final long gateAt;

    GatedSlowEchoModel(long delayMillis, long gateAt, int streams) {
      this.delayMillis = delayMillis;
      this.gateAt = gateAt;
      this.parked = new CountDownLatch(streams);
    }

    @Override
    public String name() {
      return "slow-echo";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      if (ctx.batchIndex() == gateAt) {
        parked.countDown();
        gate.await(2 * PATIENCE_SECONDS, TimeUnit.SECONDS);
      }
      Thread.sleep(delayMillis);
      scored.incrementAndGet();
      return input;
    }
  }
}
