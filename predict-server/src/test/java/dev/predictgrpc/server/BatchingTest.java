/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Dynamic batching through the raw generated stubs: concurrent callers are merged into one model
 * call, each gets exactly its own rows, failures stay inside their batch, callers that end while
 * queued never reach the model, and a full queue refuses at once.
 *
 * <p>The in-process transport runs each call's server code on the calling thread, so every
 * concurrent caller here has a thread of its own. Batches are made deterministic with a long
 * {@code maxQueueDelay} and a {@code maxRows} that the callers fill exactly, or with a model that
 * blocks until the test lets it go.
 */
class BatchingTest {
  private static final String MODEL = "batched";
  private static final Duration LONG = Duration.ofSeconds(10);

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final ExecutorService callers = Executors.newCachedThreadPool();
  /** What each model call received, in call order. */
  private final List<ModelCall> calls = Collections.synchronizedList(new ArrayList<>());

  /** One call of the model: its rows' first-column values, its column names and parameters. */
  record ModelCall(List<Float> values, List<String> columns, Map<String, String> parameters) {}

  /** A caller's outcome: the status and, if OK, the output column y. */
  record Outcome(Status status, @Nullable List<@Nullable Object> y) {}

  @AfterEach
  void stopCallers() throws InterruptedException {
    callers.shutdownNow();
    assertThat(callers.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  /** y = 2x, recording every call; {@code before} runs first (to block or fail). */
  private TestModel recordingModel(TestModel.Body before) {
    return TestModel.of(
        MODEL,
        (ctx, input) -> {
          List<Float> values = new ArrayList<>();
          Float4Vector x = (Float4Vector) input.getVector(0);
          for (int i = 0; i < input.getRowCount(); i++) {
            values.add(x.get(i));
          }
          List<String> columns = new ArrayList<>();
          input.getFieldVectors().forEach(v -> columns.add(v.getName()));
          calls.add(new ModelCall(values, columns, ctx.parameters()));
          VectorSchemaRoot early = before.apply(ctx, input);
          return early != null ? early : TestModel.doubleFirstColumn(ctx, input);
        });
  }

  private TestModel recordingModel() {
    return recordingModel((ctx, input) -> null);
  }

  /** An IPC stream of one float32 column holding {@code values}. */
  private ByteString column(String name, float... values) {
    Float4Vector vector = new Float4Vector(name, allocator());
    vector.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      vector.set(i, values[i]);
    }
    vector.setValueCount(values.length);
    try (VectorSchemaRoot root = VectorSchemaRoot.of(vector)) {
      return Batches.stream(root);
    }
  }

  private Callable<Outcome> unary(InProcessPredict p, PredictRequest request) {
    return () -> {
      try {
        PredictResponse response = p.blocking().predict(request);
        Batches.Decoded out = Batches.decode(p.allocator, response.getArrowIpc());
        assertThat(out.batches()).hasSize(1);
        return new Outcome(Status.OK, out.batches().get(0).column("y"));
      } catch (StatusRuntimeException e) {
        return new Outcome(e.getStatus(), null);
      }
    };
  }

  private Callable<Outcome> unary(InProcessPredict p, float... values) {
    return unary(p, request(MODEL, "", column("x", values)));
  }

  private static List<Object> doubled(float... values) {
    List<Object> out = new ArrayList<>();
    for (float v : values) {
      out.add(2 * v);
    }
    return out;
  }

  private static Outcome get(Future<Outcome> future) throws Exception {
    return future.get(10, TimeUnit.SECONDS);
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for %s", what).isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  private static ModelStats stats(InProcessPredict p) {
    return p.service.statistics(MODEL, "");
  }

  private static void awaitQueued(InProcessPredict p, int requests) throws InterruptedException {
    await(requests + " queued requests", () -> stats(p).queued() == requests);
  }

  @Test
  void concurrentCallers_mergedIntoOneModelCall_eachGetsExactlyItsOwnRows() throws Exception {
    // 8 callers with 1..8 rows fill maxRows = 36 exactly: one batch, dispatched when full.
    Batching batching = Batching.builder().maxRows(36).maxQueueDelay(LONG).build();
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(recordingModel(), batching).start()) {
      List<float[]> inputs = new ArrayList<>();
      List<Future<Outcome>> outcomes = new ArrayList<>();
      for (int caller = 1; caller <= 8; caller++) {
        float[] values = new float[caller];
        for (int i = 0; i < caller; i++) {
          values[i] = caller * 100 + i;
        }
        inputs.add(values);
        outcomes.add(callers.submit(unary(p, values)));
      }

      for (int caller = 0; caller < 8; caller++) {
        Outcome outcome = get(outcomes.get(caller));
        assertThat(outcome.status().getCode()).as("caller %s", caller).isEqualTo(Status.Code.OK);
        assertThat(outcome.y()).as("caller %s", caller).isEqualTo(doubled(inputs.get(caller)));
      }
      assertThat(calls).hasSize(1);
      assertThat(calls.get(0).values()).hasSize(36);

      ModelStats stats = stats(p);
      assertThat(stats.requests()).isEqualTo(8);
      assertThat(stats.rows()).isEqualTo(36);
      assertThat(stats.errors()).isZero();
      assertThat(stats.inFlight()).isZero();
      assertThat(stats.queued()).isZero();
      assertThat(stats.batchSize().count()).as("model calls").isEqualTo(1);
      assertThat(stats.batchSize().sum()).isEqualTo(36);
      assertThat(stats.queueTime().count()).isEqualTo(8);
      assertThat(stats.computeTime().count()).isEqualTo(1);
      assertThat(stats.batching()).isEqualTo(batching);
    }
  }

  @Test
  void differentParametersOrSchemas_neverShareAModelCall() throws Exception {
    Batching batching = Batching.of(100, Duration.ofMillis(300));
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(recordingModel(), batching).start()) {
      ByteString x = column("x", 1, 2);
      List<Future<Outcome>> outcomes =
          List.of(
              callers.submit(unary(p, withParameter(request(MODEL, "", x), "1"))),
              callers.submit(unary(p, withParameter(request(MODEL, "", x), "1"))),
              callers.submit(unary(p, withParameter(request(MODEL, "", x), "2"))),
              callers.submit(
                  unary(p, withParameter(request(MODEL, "", column("z", 1, 2)), "1"))));

      for (Future<Outcome> outcome : outcomes) {
        assertThat(get(outcome).status().getCode()).isEqualTo(Status.Code.OK);
        assertThat(get(outcome).y()).isEqualTo(doubled(1, 2));
      }
      // Three groups: (x, t=1) twice, (x, t=2), (z, t=1). Each call serves one group only.
      assertThat(calls).hasSize(3);
      assertThat(calls)
          .extracting(call -> call.values().size())
          .containsExactlyInAnyOrder(4, 2, 2);
      assertThat(calls)
          .filteredOn(call -> call.values().size() == 4)
          .singleElement()
          .satisfies(
              call -> {
                assertThat(call.columns()).containsExactly("x");
                assertThat(call.parameters()).containsExactly(Map.entry("t", "1"));
              });
    }
  }

  private static PredictRequest withParameter(PredictRequest request, String t) {
    return request.toBuilder().putParameters("t", t).build();
  }

  @Test
  void modelFailure_failsOnlyTheCallersInThatBatch() throws Exception {
    // maxRows = 2 with single-row callers: two batches of two, in arrival order.
    Batching batching = Batching.builder().maxRows(2).maxQueueDelay(LONG).build();
    TestModel poisoned =
        recordingModel(
            (ctx, input) -> {
              Float4Vector x = (Float4Vector) input.getVector(0);
              for (int i = 0; i < input.getRowCount(); i++) {
                if (x.get(i) < 0) {
                  throw new IllegalStateException("poison row");
                }
              }
              return null;
            });
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(poisoned, batching).start()) {
      Future<Outcome> poison = callers.submit(unary(p, -1));
      List<Future<Outcome>> good = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        good.add(callers.submit(unary(p, i)));
      }

      assertCleanError(get(poison).status(), Status.Code.INTERNAL, "batched:1", "error id");
      int failed = 0;
      for (int i = 0; i < good.size(); i++) {
        Outcome outcome = get(good.get(i));
        if (outcome.status().isOk()) {
          assertThat(outcome.y()).isEqualTo(doubled(i + 1));
        } else {
          assertCleanError(outcome.status(), Status.Code.INTERNAL, "batched:1");
          failed++;
        }
      }
      assertThat(failed).as("good callers sharing the poisoned batch").isEqualTo(1);
      assertThat(calls).hasSize(2);
      assertThat(stats(p).errors()).isEqualTo(2);

      // Later batches are unaffected.
      Future<Outcome> a = callers.submit(unary(p, 7));
      Future<Outcome> b = callers.submit(unary(p, 8));
      assertThat(get(a).y()).isEqualTo(doubled(7));
      assertThat(get(b).y()).isEqualTo(doubled(8));
    }
  }

  /** A model that blocks on {@code gate} when it sees the value 1, after opening {@code entered}. */
  private TestModel gatedModel(CountDownLatch entered, CountDownLatch gate) {
    return recordingModel(
        (ctx, input) -> {
          if (((Float4Vector) input.getVector(0)).get(0) == 1) {
            entered.countDown();
            assertThat(gate.await(10, TimeUnit.SECONDS)).isTrue();
          }
          return null;
        });
  }

  @Test
  void deadlinePassesWhileQueued_droppedBeforeTheModelRuns() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch gate = new CountDownLatch(1);
    Batching batching = Batching.of(64, Duration.ZERO);
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(gatedModel(entered, gate), batching).start()) {
      Future<Outcome> first = callers.submit(unary(p, 1));
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

      long start = System.nanoTime();
      Status late =
          statusOf(
              () ->
                  p.blocking()
                      .withDeadlineAfter(200, TimeUnit.MILLISECONDS)
                      .predict(request(MODEL, "", column("x", 2))));
      assertThat(late.getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      await("the expired request to be dropped", () -> stats(p).errors() == 1);
      assertThat(stats(p).queued()).isZero();

      gate.countDown();
      assertThat(get(first).y()).isEqualTo(doubled(1));
      assertThat(calls).extracting(ModelCall::values).containsExactly(List.of(1f));
      assertThat(stats(p).inFlight()).isZero();
    }
  }

  @Test
  void cancelWhileQueued_droppedBeforeTheModelRuns() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch gate = new CountDownLatch(1);
    Batching batching = Batching.of(64, Duration.ZERO);
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(gatedModel(entered, gate), batching).start()) {
      Future<Outcome> first = callers.submit(unary(p, 1));
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

      Context.CancellableContext call = Context.current().withCancellation();
      Future<Outcome> cancelled =
          callers.submit(() -> call.call(unary(p, request(MODEL, "", column("x", 2)))));
      awaitQueued(p, 1);
      call.cancel(null);

      assertThat(get(cancelled).status().getCode()).isEqualTo(Status.Code.CANCELLED);
      await("the cancelled request to be dropped", () -> stats(p).errors() == 1);
      assertThat(stats(p).queued()).isZero();
      gate.countDown();
      assertThat(get(first).y()).isEqualTo(doubled(1));
      assertThat(calls).extracting(ModelCall::values).containsExactly(List.of(1f));
    }
  }

  @Test
  void fullQueue_resourceExhaustedAtOnce_queuedCallersStillServed() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch gate = new CountDownLatch(1);
    Batching batching =
        Batching.builder().maxRows(64).maxQueueDelay(Duration.ZERO).maxQueuedRequests(2).build();
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(gatedModel(entered, gate), batching).start()) {
      Future<Outcome> running = callers.submit(unary(p, 1));
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
      Future<Outcome> queuedA = callers.submit(unary(p, 2));
      Future<Outcome> queuedB = callers.submit(unary(p, 3));
      awaitQueued(p, 2);

      long start = System.nanoTime();
      Outcome refused = unary(p, 4).call();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
      assertCleanError(
          refused.status(), Status.Code.RESOURCE_EXHAUSTED, "batched:1", "maxQueuedRequests=2");

      gate.countDown();
      assertThat(get(running).y()).isEqualTo(doubled(1));
      assertThat(get(queuedA).y()).isEqualTo(doubled(2));
      assertThat(get(queuedB).y()).isEqualTo(doubled(3));
      // The two that waited went to the model together.
      assertThat(calls).hasSize(2);
      assertThat(calls.get(1).values()).containsExactlyInAnyOrder(2f, 3f);
      assertThat(stats(p).errors()).isEqualTo(1);
    }
  }

  @Test
  void streamBatches_takePartInBatching_withUnaryCalls() throws Exception {
    Batching batching = Batching.builder().maxRows(4).maxQueueDelay(LONG).build();
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(recordingModel(), batching).start()) {
      ByteString streamInput = column("x", 10, 11);
      Future<Collector<PredictStreamResponse>> stream =
          callers.submit(
              () -> p.stream(InProcessPredict.messages(MODEL, Batches.split(streamInput, 50))));
      Future<Outcome> unary = callers.submit(unary(p, 20, 21));

      assertThat(get(unary).y()).isEqualTo(doubled(20, 21));
      Collector<PredictStreamResponse> streamed = stream.get(10, TimeUnit.SECONDS);
      assertThat(streamed.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      Batches.Decoded out =
          Batches.decode(allocator(), InProcessPredict.chunksAfterHeader(streamed.messages()));
      assertThat(out.batches()).hasSize(1);
      assertThat(out.batches().get(0).column("y")).isEqualTo(doubled(10, 11));
      assertThat(calls).hasSize(1);
      assertThat(calls.get(0).values()).containsExactlyInAnyOrder(10f, 11f, 20f, 21f);
    }
  }

  @Test
  void echoModel_mergedBatchSplitBackToEachCaller_loneBatchEchoedInPlace() throws Exception {
    TestModel echo =
        TestModel.of(
            MODEL,
            (ctx, input) -> {
              calls.add(new ModelCall(List.of(), List.of(), ctx.parameters()));
              return input;
            });
    // Three single-row callers fill maxRows = 3: one merged call, whose echoed input is split.
    Batching batching = Batching.builder().maxRows(3).maxQueueDelay(LONG).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).threaded().model(echo, batching).start()) {
      List<Future<Batches.Decoded>> outcomes = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ByteString input = column("x", 7 * i);
        outcomes.add(callers.submit(() -> decodeUnary(p, input)));
      }
      for (int i = 0; i < 3; i++) {
        assertThat(outcomes.get(i).get(10, TimeUnit.SECONDS).batches().get(0).column("x"))
            .containsExactly((float) 7 * i);
      }
      assertThat(calls).hasSize(1);
    }
    // A lone request is scored in place: the model gets the caller's own batch and echoes it.
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(echo, Batching.of(3, Duration.ZERO)).start()) {
      assertThat(decodeUnary(p, column("x", 1, 2)).batches().get(0).column("x"))
          .containsExactly(1f, 2f);
    }
  }

  private Batches.Decoded decodeUnary(InProcessPredict p, ByteString input) {
    return Batches.decode(
        allocator(), p.blocking().predict(request(MODEL, "", input)).getArrowIpc());
  }

  @Test
  void loneCaller_waitsTheDelayThreeTimes_thenNoMore_untilRequestsOverlapAgain() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch gate = new CountDownLatch(1);
    Batching batching = Batching.of(64, Duration.ofMillis(150));
    try (InProcessPredict p =
        InProcessPredict.builder(allocator())
            .threaded()
            .model(gatedModel(entered, gate), batching)
            .start()) {
      for (int i = 0; i < 3; i++) {
        assertThat(timedCall(p, 5)).as("lone call %s", i).isBetween(
            Duration.ofMillis(140), Duration.ofSeconds(5));
      }
      ModelStats stats = stats(p);
      assertThat(stats.queueTime().min()).isGreaterThanOrEqualTo(140_000);
      assertThat(stats.queueTime().max()).isLessThan(5_000_000);
      // Three batches waited in vain: the next lone caller is served at once.
      assertThat(timedCall(p, 6)).isLessThan(Duration.ofMillis(140));

      // A request that arrives while the model is busy brings the delay back.
      Future<Outcome> running = callers.submit(unary(p, 1));
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
      long start = System.nanoTime();
      Future<Outcome> behind = callers.submit(unary(p, 2));
      awaitQueued(p, 1);
      gate.countDown();
      assertThat(get(running).y()).isEqualTo(doubled(1));
      assertThat(get(behind).y()).isEqualTo(doubled(2));
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(140));
    }
  }

  private Duration timedCall(InProcessPredict p, float value) throws Exception {
    long start = System.nanoTime();
    assertThat(unary(p, value).call().y()).isEqualTo(doubled(value));
    return Duration.ofNanos(System.nanoTime() - start);
  }

  @Test
  void batchesOfMaxRowsOrMore_scoredAtOnceWithoutQueueing() throws Exception {
    Batching batching = Batching.builder().maxRows(4).maxQueueDelay(LONG).build();
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(recordingModel(), batching).start()) {
      // A batch of 5 rows and one of 0 rows: neither waits for the 10 s delay.
      PredictResponse response =
          p.blocking().predict(request(MODEL, "", Batches.xStream(allocator(), 5, 0)));
      assertThat(Batches.decode(allocator(), response.getArrowIpc()).rowCounts())
          .containsExactly(5, 0);
      ModelStats stats = stats(p);
      assertThat(stats.requests()).isEqualTo(2);
      assertThat(stats.queueTime().sum()).isZero();
      assertThat(stats.batchSize().counts().get(0)).as("the 0-row batch").isEqualTo(1);
    }
  }

  @Test
  void batchedAndUnbatchedModels_leaveNoArrowMemoryBehind() throws Exception {
    // Many concurrent rounds through merge and split; the extension checks for leaks afterwards.
    Batching batching = Batching.of(16, Duration.ofMillis(2));
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).threaded().model(recordingModel(), batching).start()) {
      List<Future<Outcome>> outcomes = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        outcomes.add(callers.submit(unary(p, i, i + 1, i + 2)));
      }
      for (int i = 0; i < outcomes.size(); i++) {
        assertThat(get(outcomes.get(i)).y()).isEqualTo(doubled(i, i + 1, i + 2));
      }
      ModelStats stats = stats(p);
      assertThat(stats.requests()).isEqualTo(200);
      assertThat(stats.batchSize().sum()).isEqualTo(600);
      assertThat(stats.batchSize().max()).isLessThanOrEqualTo(16);
      p.awaitCallMemoryReleased();
    }
  }
}
