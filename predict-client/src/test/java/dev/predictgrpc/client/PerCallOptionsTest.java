/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Per-call options, the answering version on unary results, statistics and error accessors. */
class PerCallOptionsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private InProcessHarness harness;

  private PredictClient start(ModelService... models) {
    harness = new InProcessHarness(arrow.allocator(), models);
    return harness.client;
  }

  @AfterEach
  void stop() throws Exception {
    if (harness != null) {
      assertThat(harness.serverBytesAfterCalls()).as("server Arrow memory after calls").isZero();
      harness.close();
    }
  }

  private VectorSchemaRoot oneRow() {
    return Batches.builder(arrow.allocator()).float32("x", new float[] {1}).build();
  }

  /** Answers each row with its version number plus the "bias" parameter (default 0). */
  static final class VersionedModel extends ModelService {
    private final String version;

    VersionedModel(String version) {
      this.version = version;
    }

    @Override
    public String name() {
      return "versioned";
    }

    @Override
    public String version() {
      return version;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      float bias = Float.parseFloat(ctx.parameters().getOrDefault("bias", "0"));
      Float4Vector out = new Float4Vector("out", ctx.allocator());
      out.allocateNew(input.getRowCount());
      for (int i = 0; i < input.getRowCount(); i++) {
        out.set(i, Float.parseFloat(version) + bias);
      }
      out.setValueCount(input.getRowCount());
      return VectorSchemaRoot.of(out);
    }
  }

  private static float first(VectorSchemaRoot root) {
    return ((Float4Vector) root.getVector("out")).get(0);
  }

  @Test
  void predictWithOptions_namesTheAnsweringVersion_latestWhenNoneAsked() {
    PredictClient client = start(new VersionedModel("1"), new VersionedModel("2"));
    try (VectorSchemaRoot input = oneRow();
        Prediction latest = client.predict("versioned", input, PredictOptions.defaults());
        Prediction pinned =
            client.predict("versioned", input, PredictOptions.defaults().withVersion("1"))) {
      assertThat(latest.modelName()).isEqualTo("versioned");
      assertThat(latest.modelVersion()).isEqualTo("2");
      assertThat(first(latest.root())).isEqualTo(2f);
      assertThat(pinned.modelVersion()).isEqualTo("1");
      assertThat(first(pinned.root())).isEqualTo(1f);
    }
  }

  @Test
  void predictWithOptions_versionAndParametersApplyOnTopOfTheModelRef() {
    PredictClient client = start(new VersionedModel("1"), new VersionedModel("2"));
    ModelRef ref = ModelRef.of("versioned").withVersion("2").withParameter("bias", "10");
    PredictOptions options = PredictOptions.defaults().withVersion("1").withParameter("bias", "20");
    try (VectorSchemaRoot input = oneRow();
        Prediction fromRef = client.predict(ref, input, PredictOptions.defaults());
        Prediction overridden = client.predict(ref, input, options)) {
      assertThat(fromRef.modelVersion()).isEqualTo("2");
      assertThat(first(fromRef.root())).isEqualTo(12f);
      assertThat(overridden.modelVersion()).isEqualTo("1");
      assertThat(first(overridden.root())).isEqualTo(21f);
    }
  }

  @Test
  void predictWithOptions_deadlineAppliesToThatCallOnly() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    PredictClient client = start(blocking, new VersionedModel("1"));
    try (VectorSchemaRoot input = oneRow()) {
      PredictOptions shortDeadline = PredictOptions.defaults().withDeadline(Duration.ofMillis(200));
      assertThatThrownBy(() -> client.predict("blocking", input, shortDeadline))
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.isDeadlineExceeded()).isTrue());
      // The same client, with no deadline of its own, still serves calls: nothing was derived.
      try (VectorSchemaRoot out = client.predict("versioned", input)) {
        assertThat(first(out)).isEqualTo(1f);
      }
      for (int i = 0; i < 200 && !blocking.sawCancellation; i++) {
        Thread.sleep(10);
      }
      assertThat(blocking.sawCancellation).isTrue();
    }
  }

  @Test
  void predictAsyncWithOptions_completesWithThePrediction() throws Exception {
    PredictClient client = start(new VersionedModel("3"));
    CompletableFuture<Prediction> future;
    try (VectorSchemaRoot input = oneRow()) {
      future =
          client.predictAsync(
              ModelRef.of("versioned"), input, PredictOptions.defaults().withParameter("bias", "1"));
    }
    try (Prediction prediction = future.get(10, TimeUnit.SECONDS)) {
      assertThat(prediction.modelVersion()).isEqualTo("3");
      assertThat(first(prediction.root())).isEqualTo(4f);
    }
  }

  @Test
  void prediction_takeRoot_handsOwnershipOver_andCloseThenDoesNothing() {
    PredictClient client = start(new VersionedModel("1"));
    VectorSchemaRoot kept;
    try (VectorSchemaRoot input = oneRow();
        Prediction prediction = client.predict("versioned", input, PredictOptions.defaults())) {
      kept = prediction.takeRoot();
      assertThatThrownBy(prediction::root).isInstanceOf(IllegalStateException.class);
    }
    try (VectorSchemaRoot root = kept) {
      assertThat(first(root)).isEqualTo(1f);
    }
  }

  @Test
  void streamsWithOptions_chooseTheVersion() {
    PredictClient client = start(new VersionedModel("1"), new VersionedModel("2"));
    try (VectorSchemaRoot input = oneRow();
        PredictionStream results =
            client.predictStream(
                ModelRef.of("versioned"),
                List.of(input).iterator(),
                PredictOptions.defaults().withVersion("1").withParameter("bias", "5"))) {
      assertThat(results.next()).isTrue();
      assertThat(results.modelVersion()).isEqualTo("1");
      assertThat(first(results.root())).isEqualTo(6f);
      assertThat(results.next()).isFalse();
    }
  }

  @Test
  void openStreamWithOptions_deadlineEndsThatStreamOnly() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    PredictClient client = start(blocking, new VersionedModel("1"));
    try (VectorSchemaRoot input = oneRow();
        PredictCall call =
            client.openStream(
                ModelRef.of("blocking"),
                PredictOptions.defaults().withDeadline(Duration.ofMillis(200)))) {
      call.write(input);
      call.complete();
      assertThatThrownBy(() -> call.results().next())
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.isDeadlineExceeded()).isTrue());
      try (VectorSchemaRoot out = client.predict("versioned", input)) {
        assertThat(first(out)).isEqualTo(1f);
      }
    }
    for (int i = 0; i < 200 && !blocking.sawCancellation; i++) {
      Thread.sleep(10);
    }
    assertThat(blocking.sawCancellation).isTrue();
  }

  @Test
  void statistics_countRequestsPerVersion_allOrOneModel() {
    PredictClient client =
        start(new VersionedModel("1"), new VersionedModel("2"), new TestModels.EchoModel());
    try (VectorSchemaRoot input = oneRow()) {
      client.predict("versioned", input).close();
      client.predict("versioned", input).close();
      client.predict(ModelRef.of("versioned").withVersion("1"), input).close();
    }
    List<ModelStats> all = client.statistics();
    assertThat(all)
        .extracting(s -> s.modelName() + ":" + s.modelVersion())
        .containsExactly("echo:1", "versioned:1", "versioned:2");
    List<ModelStats> versioned = client.statistics(ModelRef.of("versioned"));
    assertThat(versioned).extracting(ModelStats::requests).containsExactly(1L, 2L);
    ModelStats latest = client.statistics(ModelRef.of("versioned").withVersion("2")).get(0);
    assertThat(latest.rows()).isEqualTo(2);
    assertThat(latest.errors()).isZero();
    assertThat(latest.batching()).isNull();
    assertThat(latest.batchSize().count()).isEqualTo(2);
    assertThat(latest.batchSize().percentile(50)).isEqualTo(1);
    assertThat(latest.computeTime().counts()).hasSize(latest.computeTime().upperBounds().size() + 1);
  }

  @Test
  void statistics_unknownModel_isNotFound() {
    PredictClient client = start(new VersionedModel("1"));
    assertThatThrownBy(() -> client.statistics(ModelRef.of("nope")))
        .isInstanceOfSatisfying(
            PredictException.class,
            e -> {
              assertThat(e.isNotFound()).isTrue();
              assertThat(e.isInvalidArgument()).isFalse();
            })
        .hasMessageContaining("nope");
  }

  @Test
  void errorAccessors_readTheServersStatus() {
    PredictClient client = start(new TestModels.DeclaredSumModel());
    try (VectorSchemaRoot wrong = oneRow()) {
      assertThatThrownBy(() -> client.predict("sum-ab", wrong))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> {
                assertThat(e.isInvalidArgument()).isTrue();
                assertThat(e.code()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
              });
    }
  }
}
