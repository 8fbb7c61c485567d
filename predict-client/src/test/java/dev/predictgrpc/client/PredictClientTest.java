/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PredictClientTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private InProcessHarness harness;

  private InProcessHarness start(dev.predictgrpc.server.ModelService... models) {
    harness = new InProcessHarness(arrow.allocator(), models);
    return harness;
  }

  @AfterEach
  void stop() throws Exception {
    if (harness != null) {
      assertThat(harness.serverBytesAfterCalls()).as("server Arrow memory after calls").isZero();
      harness.close();
    }
  }

  private VectorSchemaRoot ab(float[] a, float[] b) {
    return Batches.builder(arrow.allocator()).float32("a", a).float32("b", b).build();
  }

  @Test
  void predict_allCommonTypesWithNulls_roundTripThroughEcho() {
    PredictClient client = start(new TestModels.EchoModel()).client;
    try (VectorSchemaRoot input = AllTypes.create(arrow.allocator(), 50, 3);
        VectorSchemaRoot output = client.predict("echo", input)) {
      assertThat(output.getSchema()).isEqualTo(input.getSchema());
      assertThat(output.equals(input)).isTrue();
    }
  }

  @Test
  void predict_zeroRowBatch_returnsZeroRows() {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    try (VectorSchemaRoot input = ab(new float[0], new float[0]);
        VectorSchemaRoot output = client.predict("row-sum", input)) {
      assertThat(output.getRowCount()).isZero();
      assertThat(output.getSchema().getFields()).extracting(f -> f.getName()).containsExactly("score");
    }
  }

  @Test
  void predictAsync_completesWithOwnedResult() throws Exception {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    CompletableFuture<VectorSchemaRoot> future;
    try (VectorSchemaRoot input = ab(new float[] {1, 2}, new float[] {3, 4})) {
      future = client.predictAsync(ModelRef.of("row-sum"), input);
    } // The input is serialized before predictAsync returns, so closing it here is fine.
    try (VectorSchemaRoot output = future.get(10, TimeUnit.SECONDS)) {
      assertThat(((Float4Vector) output.getVector("score")).get(1)).isEqualTo(6f);
    }
  }

  @Test
  void predictAsync_unknownModel_failsWithNotFound() {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2})) {
      CompletableFuture<VectorSchemaRoot> future = client.predictAsync(ModelRef.of("nope"), input);
      assertThatThrownBy(() -> future.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(PredictException.class)
          .hasMessageContaining("'nope'");
    }
  }

  @Test
  void predict_latestVersionAnswers_andVersionsCanBeChosen() {
    PredictClient client =
        start(new TestModels.RowSumModel("2"), new TestModels.RowSumModel("10")).client;
    assertThat(client.modelInfo(ModelRef.of("row-sum")).latestVersion()).isEqualTo("10");
    assertThat(client.modelInfo(ModelRef.of("row-sum").withVersion("2")).latestVersion())
        .isEqualTo("2");
    assertThat(client.listModels())
        .singleElement()
        .satisfies(m -> assertThat(m.versions()).containsExactly("2", "10"));
  }

  @Test
  void predict_unknownModel_throwsNotFoundNamingIt() {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2})) {
      assertThatThrownBy(() -> client.predict("missing", input))
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND))
          .hasMessageContaining("'missing'");
      assertThatThrownBy(() -> client.predict(ModelRef.of("row-sum").withVersion("7"), input))
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND))
          .hasMessageContaining("'7'");
    }
  }

  @Test
  void predict_wrongColumnType_invalidArgumentNamingColumnAndTypes() {
    PredictClient client = start(new TestModels.DeclaredSumModel()).client;
    try (VectorSchemaRoot input =
        Batches.builder(arrow.allocator())
            .float32("a", new float[] {1})
            .int32("b", new int[] {2})
            .build()) {
      assertThatThrownBy(() -> client.predict("sum-ab", input))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessageContaining("'b'")
          .hasMessageContaining("Int(32, true)")
          .hasMessageContaining("FloatingPoint(SINGLE)");
    }
    // The server keeps serving.
    try (VectorSchemaRoot good = ab(new float[] {1}, new float[] {2});
        VectorSchemaRoot out = client.predict("sum-ab", good)) {
      assertThat(((Float4Vector) out.getVector(0)).get(0)).isEqualTo(3f);
    }
  }

  @Test
  void predict_modelThrows_internalWithoutDetails_thenServerStillAnswers() {
    PredictClient client =
        start(
                new TestModels.FailingModel(0, new IllegalStateException("db password=hunter2")),
                new TestModels.RowSumModel())
            .client;
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2})) {
      assertThatThrownBy(() -> client.predict("failing", input))
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INTERNAL))
          .hasMessageContaining("'failing:1'")
          .hasMessageNotContaining("hunter2")
          .hasMessageNotContaining("IllegalStateException");
      try (VectorSchemaRoot out = client.predict("row-sum", input)) {
        assertThat(out.getRowCount()).isEqualTo(1);
      }
    }
  }

  @Test
  void predict_wrongRowCount_internalNamedAsModelFault() {
    PredictClient client = start(new TestModels.ShortModel()).client;
    try (VectorSchemaRoot input = ab(new float[] {1, 2}, new float[] {2, 3})) {
      assertThatThrownBy(() -> client.predict("short", input))
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INTERNAL))
          .hasMessageContaining("model 'short:1' returned 1 rows");
    }
  }

  @Test
  void modelInfo_returnsDeclaredSchemas() {
    PredictClient client = start(new TestModels.DeclaredSumModel()).client;
    ModelInfo info = client.modelInfo(ModelRef.of("sum-ab"));
    assertThat(info.inputSchema()).isEqualTo(TestModels.floatSchema("a", "b"));
    assertThat(info.outputSchema().getFields()).extracting(f -> f.getName()).containsExactly("score");
    assertThat(info.description()).isEqualTo("sums float32 columns");
  }

  @Test
  void predictStream_modelThrowsOnBatchK_failsAfterKResults() {
    PredictClient client =
        start(new TestModels.FailingModel(3, new RuntimeException("boom")), new TestModels.EchoModel())
            .client;
    List<VectorSchemaRoot> batches = List.of(
        ab(new float[] {0}, new float[] {0}),
        ab(new float[] {1}, new float[] {1}),
        ab(new float[] {2}, new float[] {2}),
        ab(new float[] {3}, new float[] {3}),
        ab(new float[] {4}, new float[] {4}));
    try (PredictionStream results =
        client.predictStream(ModelRef.of("failing"), batches.iterator())) {
      for (int i = 0; i < 3; i++) {
        assertThat(results.next()).isTrue();
        assertThat(((Float4Vector) results.root().getVector("a")).get(0)).isEqualTo((float) i);
      }
      assertThatThrownBy(results::next)
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.INTERNAL))
          .hasMessageContaining("on batch 3")
          .hasMessageNotContaining("boom");
    } finally {
      batches.forEach(VectorSchemaRoot::close);
    }
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2});
        VectorSchemaRoot out = client.predict("echo", input)) {
      assertThat(out.getRowCount()).isEqualTo(1);
    }
  }

  @Test
  void predictStream_noBatches_endsWithNoResults() {
    PredictClient client = start(new TestModels.EchoModel()).client;
    try (PredictionStream results =
        client.predictStream(ModelRef.of("echo"), List.<VectorSchemaRoot>of().iterator())) {
      assertThat(results.next()).isFalse();
    }
  }

  @Test
  void predictStream_dictionaryEncodedAndAllTypes_roundTrip() throws Exception {
    PredictClient client = start(new TestModels.EchoModel()).client;
    try (DictionaryBatch dict = DictionaryBatch.create(arrow.allocator())) {
      dict.assertEchoedTwice(client);
    }
    AllTypes.assertEchoRoundTrip(client, arrow.allocator());
  }

  @Test
  void predictStream_takeRoot_keepsResultAfterStreamCloses() {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    VectorSchemaRoot kept;
    try (VectorSchemaRoot batch = ab(new float[] {1, 2}, new float[] {5, 5});
        PredictionStream results =
            client.predictStream(ModelRef.of("row-sum"), List.of(batch).iterator())) {
      assertThat(results.next()).isTrue();
      kept = results.takeRoot(arrow.allocator());
      assertThat(results.next()).isFalse();
    }
    try (VectorSchemaRoot result = kept) {
      assertThat(((Float4Vector) result.getVector("score")).get(1)).isEqualTo(7f);
    }
  }

  @Test
  void withDeadline_slowModel_deadlineExceeded_andModelSeesCancellation() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    PredictClient client = start(blocking, new TestModels.EchoModel()).client;
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2})) {
      assertThatThrownBy(
              () -> client.withDeadline(java.time.Duration.ofMillis(300)).predict("blocking", input))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      for (int i = 0; i < 200 && !blocking.sawCancellation; i++) {
        Thread.sleep(10);
      }
      assertThat(blocking.sawCancellation).isTrue();
      try (VectorSchemaRoot out = client.predict("echo", input)) {
        assertThat(out.getRowCount()).isEqualTo(1);
      }
    }
  }

  @Test
  void predictStream_clientCancelsMidStream_serverStopsAndReleasesMemory() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    PredictClient client = start(blocking).client;
    try (VectorSchemaRoot input = ab(new float[] {1}, new float[] {2})) {
      PredictCall call = client.openStream(ModelRef.of("blocking"));
      call.write(input);
      assertThat(blocking.entered.await(5, TimeUnit.SECONDS)).isTrue();
      call.cancel();
      assertThatThrownBy(() -> call.results().next())
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.CANCELLED));
      call.close();
      for (int i = 0; i < 200 && !blocking.sawCancellation; i++) {
        Thread.sleep(10);
      }
      assertThat(blocking.sawCancellation).isTrue();
    }
  }

  @Test
  void predictStream_pipelines_firstResultArrivesBeforeLastInputIsSent() throws Exception {
    PredictClient client = start(new TestModels.RowSumModel()).client;
    java.util.concurrent.CountDownLatch firstResult = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean sawResultBeforeLastWrite =
        new java.util.concurrent.atomic.AtomicBoolean();
    try (PredictCall call = client.openStream(ModelRef.of("row-sum"))) {
      Thread writer =
          new Thread(
              () -> {
                try (VectorSchemaRoot batch = ab(new float[] {1, 2}, new float[] {3, 4})) {
                  for (int i = 0; i < 10; i++) {
                    if (i == 9) {
                      sawResultBeforeLastWrite.set(firstResult.await(10, TimeUnit.SECONDS));
                    }
                    call.write(batch);
                  }
                  call.complete();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      writer.start();
      int n = 0;
      while (call.results().next()) {
        firstResult.countDown();
        n++;
      }
      writer.join(10_000);
      assertThat(n).isEqualTo(10);
      assertThat(sawResultBeforeLastWrite).isTrue();
    }
  }

  @Test
  void openStream_writeAfterTheServerRejectedTheStream_failsAtOnceWithoutAReader() {
    PredictClient client = start(new TestModels.EchoModel()).client;
    try (VectorSchemaRoot batch = ab(new float[] {1}, new float[] {2});
        PredictCall call = client.openStream(ModelRef.of("no-such-model"))) {
      org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
          java.time.Duration.ofSeconds(10),
          () -> {
            // Keep writing on this one thread, never reading, until the rejection lands; a
            // write must then fail, with the server's reason, instead of waiting for a reader
            // that does not exist.
            assertThatThrownBy(
                    () -> {
                      while (true) {
                        call.write(batch);
                        Thread.sleep(5);
                      }
                    })
                .isInstanceOfSatisfying(
                    PredictException.class,
                    e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND))
                .hasMessageContaining("no-such-model");
          });
      assertThatThrownBy(() -> call.results().next())
          .isInstanceOfSatisfying(
              PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND));
    }
  }

  @Test
  void batchesBuilder_rejectsColumnsOfDifferentLengths() {
    try (Batches.Builder builder = Batches.builder(arrow.allocator())) {
      builder.int32("a", new int[] {1, 2});
      assertThatThrownBy(() -> builder.int32("b", new int[] {1}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'b'");
    }
    try (VectorSchemaRoot root =
        Batches.builder(arrow.allocator()).int32("a", new int[] {7}).utf8("s", new String[] {null}).build()) {
      assertThat(((IntVector) root.getVector("a")).get(0)).isEqualTo(7);
      assertThat(root.getVector("s").isNull(0)).isTrue();
      assertThat(root.getSchema()).isInstanceOf(Schema.class);
    }
  }
}
