/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ListModelsRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Models added, replaced and removed while calls run: every call completes, each on one version,
 * failed loads change nothing, drained versions close once their calls end, memory returns to 0.
 */
class ModelLifecycleTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<TestModel> created = new CopyOnWriteArrayList<>();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  /** Version {@code version} of model "m": y = x + tag, taking {@code delayMillis} per batch. */
  private TestModel tagged(String version, float tag, long delayMillis) {
    TestModel model =
        TestModel.of(
                "m",
                (ctx, input) -> {
                  if (delayMillis > 0) {
                    Thread.sleep(delayMillis);
                  }
                  Float4Vector x = (Float4Vector) input.getVector(0);
                  return TestModel.floatColumn(ctx, "y", input.getRowCount(), i -> x.get(i) + tag);
                })
            .version(version);
    created.add(model);
    return model;
  }

  private InProcessPredict start(TestModel... models) {
    InProcessPredict.Builder builder = InProcessPredict.builder(allocator()).threaded();
    for (TestModel model : models) {
      builder.model(model);
    }
    return builder.start();
  }

  /** The tags (y - x) of every row a unary call answered. */
  private Set<Float> unaryTags(InProcessPredict p, String version) {
    PredictResponse response =
        p.blocking().predict(request("m", version, Batches.xStream(allocator(), 2, 3)));
    return tagsOf(Batches.decode(allocator(), response.getArrowIpc()));
  }

  private static Set<Float> tagsOf(Batches.Decoded out) {
    Set<Float> tags = new HashSet<>();
    for (int b = 0; b < out.batches().size(); b++) {
      List<Object> ys = out.batches().get(b).column("y");
      for (int i = 0; i < ys.size(); i++) {
        tags.add((Float) ys.get(i) - Batches.value(b, i));
      }
    }
    return tags;
  }

  /**
   * A stream to "m" of four 2-row batches, cut into four chunks that the test sends one at a
   * time (a chunk can end anywhere inside a message).
   */
  private final class OpenStream {
    final Collector<PredictStreamResponse> responses = new Collector<>();
    final StreamObserver<PredictStreamRequest> requests;
    private final List<ByteString> pieces;
    private int sent;

    OpenStream(InProcessPredict p, String version) {
      ByteString whole = Batches.xStream(allocator(), 2, 2, 2, 2);
      pieces = Batches.split(whole, whole.size() / 4 + 1);
      requests = p.async().predictStream(responses);
      requests.onNext(InProcessPredict.header("m", version));
    }

    void sendNext() {
      requests.onNext(InProcessPredict.chunk(pieces.get(sent++)));
    }

    Batches.Decoded finish(BufferAllocator allocator) {
      while (sent < pieces.size()) {
        sendNext();
      }
      requests.onCompleted();
      Status status = responses.awaitStatus();
      assertThat(status.getCode()).as("stream status %s", status).isEqualTo(Status.Code.OK);
      return Batches.decode(allocator, InProcessPredict.chunksAfterHeader(responses.messages()));
    }
  }

  @Test
  void replaceUnderConcurrentLoad_everyCallCompletesOnOneVersion() throws Exception {
    try (InProcessPredict p = start(tagged("1", 100, 0))) {
      AtomicBoolean swapping = new AtomicBoolean(true);
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      ConcurrentLinkedQueue<Set<Float>> streamTags = new ConcurrentLinkedQueue<>();
      ExecutorService clients = Executors.newFixedThreadPool(4);
      List<Future<Integer>> results = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        results.add(
            clients.submit(
                () -> {
                  int calls = 0;
                  while (swapping.get()) {
                    try {
                      assertThat(unaryTags(p, "")).hasSize(1);
                      calls++;
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  }
                  return calls;
                }));
        results.add(
            clients.submit(
                () -> {
                  int calls = 0;
                  while (swapping.get()) {
                    try {
                      OpenStream stream = new OpenStream(p, "");
                      for (int b = 0; b < 3; b++) {
                        stream.sendNext();
                        Thread.sleep(5);
                      }
                      Batches.Decoded out = stream.finish(allocator());
                      streamTags.add(tagsOf(out));
                      calls++;
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  }
                  return calls;
                }));
      }
      for (int swap = 2; swap <= 12; swap++) {
        Thread.sleep(40);
        p.service.models().replace(tagged("1", 100 * swap, 2));
      }
      swapping.set(false);
      int calls = 0;
      for (Future<Integer> result : results) {
        calls += result.get(30, TimeUnit.SECONDS);
      }
      clients.shutdown();

      assertThat(failures).as("failed calls").isEmpty();
      assertThat(calls).isGreaterThan(20);
      assertThat(streamTags).allSatisfy(tags -> assertThat(tags).hasSize(1));
      assertThat(unaryTags(p, "1")).containsExactly(1200f);
      // Every replaced instance closed once its calls ended; the last one still serves.
      for (int i = 0; i < created.size() - 1; i++) {
        TestModel replaced = created.get(i);
        awaitTrue(() -> replaced.closed.get(), "version instance " + i + " closed");
      }
      assertThat(created.get(created.size() - 1).closed).isFalse();
      assertThat(versionsOfM(p))
          .containsExactly(new ModelVersion("m", "1", ModelState.SERVING));
      assertThat(p.service.allocatedBytes()).isZero();
    }
  }

  @Test
  void failedStartOrWarmUp_publishesNothing_andTheServingVersionKeepsServing() throws Exception {
    try (InProcessPredict p = start(tagged("1", 100, 0))) {
      TestModel broken =
          tagged("1", 200, 0)
              .onStart(
                  () -> {
                    throw new IllegalStateException("weights missing");
                  });
      assertThatThrownBy(() -> p.service.models().replace(broken))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("failed to start")
          .hasMessageContaining("weights missing");
      assertThat(broken.closed).isTrue();

      TestModel coldFails =
          tagged("1", 300, 0)
              .body(
                  (ctx, input) -> {
                    throw new IllegalArgumentException("cannot score");
                  });
      try (VectorSchemaRoot sample = floats(3)) {
        assertThatThrownBy(
                () ->
                    p.service
                        .models()
                        .replace(coldFails, ModelOptions.builder().warmUp(sample).build()))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("failed to warm up");
      }
      assertThat(coldFails.closed).isTrue();

      assertThat(unaryTags(p, "")).containsExactly(100f);
      assertThat(versionsOfM(p))
          .containsExactly(new ModelVersion("m", "1", ModelState.SERVING));
      assertThat(p.service.allocatedBytes()).isZero();
    }
  }

  @Test
  void warmUpBatch_isScoredBeforePublishing() throws Exception {
    try (InProcessPredict p = start(tagged("1", 100, 0))) {
      TestModel two = tagged("2", 200, 0);
      try (VectorSchemaRoot sample = floats(5)) {
        p.service.models().add(two, ModelOptions.builder().warmUp(sample).build());
      }

      assertThat(two.batches.get()).as("the warm-up batch").isEqualTo(1);
      assertThat(unaryTags(p, "")).containsExactly(200f);
      assertThat(unaryTags(p, "1")).containsExactly(100f);
    }
  }

  @Test
  void removedVersion_finishesItsStreamInFlight_refusesNewCalls_thenCloses() throws Exception {
    TestModel one = tagged("1", 100, 0);
    try (InProcessPredict p = start(one, tagged("2", 200, 0))) {
      OpenStream stream = new OpenStream(p, "1");
      stream.sendNext();
      stream.responses.awaitFirstMessage();

      CompletableFuture<Void> closed = p.service.models().remove("m", "1");

      assertThat(closed).isNotDone();
      assertThat(versionsOfM(p))
          .containsExactly(
              new ModelVersion("m", "1", ModelState.DRAINING),
              new ModelVersion("m", "2", ModelState.SERVING));
      assertThat(p.service.statistics("m", "2").state()).isEqualTo(ModelState.SERVING);
      assertThat(p.service.statistics())
          .filteredOn(stats -> stats.modelName().equals("m"))
          .extracting(ModelStats::state)
          .containsExactly(ModelState.DRAINING, ModelState.SERVING);
      Status refused = statusOf(() -> unaryTags(p, "1"));
      assertCleanError(refused, Status.Code.NOT_FOUND, "no version '1'");
      assertThat(
              p.blocking().listModels(ListModelsRequest.getDefaultInstance()).getModels(0)
                  .getVersionsList())
          .containsExactly("2");

      assertThat(tagsOf(stream.finish(allocator()))).containsExactly(100f);
      closed.get(10, TimeUnit.SECONDS);
      assertThat(one.closed).isTrue();
      assertThat(versionsOfM(p))
          .containsExactly(new ModelVersion("m", "2", ModelState.SERVING));
      assertThat(p.service.allocatedBytes()).isZero();
    }
  }

  @Test
  void streamOutlivingTheGracePeriod_failsAtItsNextBatch_andTheVersionCloses() throws Exception {
    TestModel one = tagged("1", 100, 0);
    try (InProcessPredict p =
        InProcessPredict.builder(allocator())
            .threaded()
            .model(one)
            .model(tagged("2", 200, 0))
            .drainGracePeriod(Duration.ofMillis(200))
            .start()) {
      OpenStream stream = new OpenStream(p, "1");
      stream.sendNext();
      stream.responses.awaitFirstMessage();

      p.service.models().remove("m", "1").get(10, TimeUnit.SECONDS);

      assertThat(one.closed).isTrue();
      stream.sendNext();
      stream.sendNext();
      stream.requests.onCompleted();
      assertCleanError(
          stream.responses.awaitStatus(), Status.Code.UNAVAILABLE, "m:1", "was unloaded");
      awaitTrue(() -> p.service.allocatedBytes() == 0, "the stream's memory released");
    }
  }

  @Test
  void latestOnePolicy_turnsAnAddIntoARollingUpgrade() throws Exception {
    TestModel one = tagged("1", 100, 0);
    try (InProcessPredict p = start(one)) {
      ModelManager models = p.service.models();
      models.versionPolicy("m", VersionPolicy.latest(1));

      models.add(tagged("2", 200, 0));

      assertThat(unaryTags(p, "")).containsExactly(200f);
      awaitTrue(() -> one.closed.get(), "version 1 closed");
      assertThat(versionsOfM(p)).containsExactly(new ModelVersion("m", "2", ModelState.SERVING));
      assertThatThrownBy(() -> models.add(tagged("1", 300, 0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not admitted by its version policy latest(1)");
      assertThatThrownBy(() -> models.add(tagged("2", 300, 0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("served already");
    }
  }

  @Test
  void refusedAdd_closesTheRefusedInstance_butNeverTheOneServing() throws Exception {
    TestModel one = tagged("1", 100, 0);
    try (InProcessPredict p = start(one)) {
      TestModel duplicate = tagged("1", 200, 0);
      assertThatThrownBy(() -> p.service.models().add(duplicate))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(duplicate.closed).isTrue(); // Handed over, refused, never started: closed.
      assertThat(duplicate.started).isFalse();

      assertThatThrownBy(() -> p.service.models().add(one))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(one.closed).isFalse();
      assertThat(unaryTags(p, "1")).containsExactly(100f);
    }
  }

  @Test
  void specificPolicy_drainsTheVersionsItDoesNotName() throws Exception {
    TestModel one = tagged("1", 100, 0);
    try (InProcessPredict p = start(one, tagged("2", 200, 0), tagged("3", 300, 0))) {
      p.service.models().versionPolicy("m", VersionPolicy.specific("2", "3"));

      awaitTrue(() -> one.closed.get(), "version 1 closed");
      assertThat(unaryTags(p, "")).containsExactly(300f);
      assertThat(versionsOfM(p)).extracting(ModelVersion::version).containsExactly("2", "3");
    }
  }

  /** The versions of "m" (the test server also hosts a model "scale"). */
  private static List<ModelVersion> versionsOfM(InProcessPredict p) {
    return p.service.models().list().stream().filter(v -> v.name().equals("m")).toList();
  }

  private VectorSchemaRoot floats(int rows) {
    Float4Vector x = new Float4Vector("x", allocator());
    x.allocateNew(rows);
    for (int i = 0; i < rows; i++) {
      x.set(i, i);
    }
    x.setValueCount(rows);
    return VectorSchemaRoot.of(x);
  }

  private static void awaitTrue(java.util.function.BooleanSupplier condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as(what + " within 10 s").isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
