/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The unary Predict RPC through the raw generated blocking stub. */
class PredictUnaryTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  /** y = x + offset, so the answer shows which version scored it. */
  private static TestModel offsetModel(String version, float offset) {
    return TestModel.of(
            "versioned",
            (ctx, input) -> {
              Float4Vector x = (Float4Vector) input.getVector(0);
              return TestModel.floatColumn(ctx, "y", input.getRowCount(), i -> x.get(i) + offset);
            })
        .version(version);
  }

  @Test
  void multiBatchInput_oneOutputBatchPerInputBatch() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      PredictResponse response =
          p.blocking().predict(request("scale", "", Batches.xStream(allocator(), 3, 1, 4)));

      assertThat(response.getModel().getName()).isEqualTo("scale");
      assertThat(response.getModel().getVersion()).isEqualTo("1");
      Batches.Decoded out = Batches.decode(allocator(), response.getArrowIpc());
      assertThat(out.rowCounts()).containsExactly(3, 1, 4);
      assertThat(out.endOfStream()).isTrue();
      assertThat(out.batches().get(2).column("y")).containsExactly(4000f, 4002f, 4004f, 4006f);
    }
  }

  @Test
  void schemaWithoutBatches_okWithOutputSchemaAndNoBatch() throws Exception {
    Schema declared = TestModel.floatSchema(true, "y");
    try (InProcessPredict p =
        InProcessPredict.start(allocator(), TestModel.scale("typed").output(declared))) {
      ByteString schemaOnly = Batches.floatStream(allocator(), true, new int[0], "x");

      PredictResponse response = p.blocking().predict(request("typed", "", schemaOnly));

      Batches.Decoded out = Batches.decode(allocator(), response.getArrowIpc());
      assertThat(out.batches()).isEmpty();
      assertThat(out.schema()).isEqualTo(declared);
    }
  }

  @Test
  void emptyVersion_resolvesToNumericallyGreatest() throws Exception {
    try (InProcessPredict p =
        InProcessPredict.start(allocator(), offsetModel("2", 2f), offsetModel("10", 10f))) {
      ByteString input = Batches.xStream(allocator(), 2);

      PredictResponse latest = p.blocking().predict(request("versioned", "", input));
      assertThat(latest.getModel())
          .isEqualTo(ModelSpec.newBuilder().setName("versioned").setVersion("10").build());
      assertThat(Batches.decode(allocator(), latest.getArrowIpc()).batches().get(0).column("y"))
          .containsExactly(10f, 11f);

      PredictResponse pinned = p.blocking().predict(request("versioned", "2", input));
      assertThat(pinned.getModel().getVersion()).isEqualTo("2");
      assertThat(Batches.decode(allocator(), pinned.getArrowIpc()).batches().get(0).column("y"))
          .containsExactly(2f, 3f);
    }
  }

  @Test
  void parameters_reachTheModel() throws Exception {
    Map<String, String> received = new ConcurrentHashMap<>();
    TestModel model =
        TestModel.of(
            "params",
            (ctx, input) -> {
              received.putAll(ctx.parameters());
              return TestModel.doubleFirstColumn(ctx, input);
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), model)) {
      PredictRequest withParams =
          request("params", "", Batches.xStream(allocator(), 1)).toBuilder()
              .putParameters("threshold", "0.7")
              .build();
      p.blocking().predict(withParams);
      assertThat(received).containsExactly(Map.entry("threshold", "0.7"));
    }
  }

  @Test
  void unknownModel_notFoundNamingIt() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Status status =
          statusOf(
              () ->
                  p.blocking()
                      .predict(request("no-such-model", "", Batches.xStream(allocator(), 1))));

      assertCleanError(status, Status.Code.NOT_FOUND, "no-such-model");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void unknownVersion_notFoundNamingIt() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("scale", "9", Batches.xStream(allocator(), 1))));

      assertCleanError(status, Status.Code.NOT_FOUND, "scale", "'9'");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void emptyModelName_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Status status =
          statusOf(() -> p.blocking().predict(request("", "", Batches.xStream(allocator(), 1))));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "model");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void emptyArrowIpc_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Status status = statusOf(() -> p.blocking().predict(request("scale", "", ByteString.EMPTY)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "scale", "schema");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void randomBytes_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      byte[] garbage = new byte[300];
      new Random(11).nextBytes(garbage);
      ByteString input =
          ByteString.copyFrom(new byte[] {-1, -1, -1, -1, 100, 0, 0, 0})
              .concat(ByteString.copyFrom(garbage));

      Status status = statusOf(() -> p.blocking().predict(request("scale", "", input)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "scale");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void truncatedIpc_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString whole = Batches.xStream(allocator(), 100);
      ByteString cut = whole.substring(0, whole.size() - 60);

      Status status = statusOf(() -> p.blocking().predict(request("scale", "", cut)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "truncated");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void schemaMismatch_invalidArgumentNamingColumn() throws Exception {
    TestModel typed = TestModel.scale("typed").input(TestModel.floatSchema(false, "x"));
    try (InProcessPredict p = InProcessPredict.start(allocator(), typed)) {
      ByteString wrongName = Batches.floatStream(allocator(), true, new int[] {2}, "not_x");

      Status status = statusOf(() -> p.blocking().predict(request("typed", "", wrongName)));

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "'x'", "typed");
      assertThat(typed.batches.get()).isZero();
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelThrowsOnBatch2_internalNamingModelAndBatchButNotTheCause() throws Exception {
    TestModel flaky =
        TestModel.of(
            "flaky",
            (ctx, input) -> {
              if (ctx.batchIndex() == 2) {
                throw new IllegalStateException("secret /etc/passwd detail");
              }
              return TestModel.doubleFirstColumn(ctx, input);
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), flaky)) {
      Status status =
          statusOf(
              () ->
                  p.blocking()
                      .predict(request("flaky", "", Batches.xStream(allocator(), 1, 1, 1, 1, 1))));

      assertCleanError(status, Status.Code.INTERNAL, "flaky", "batch 2");
      assertThat(status.getDescription()).doesNotContain("secret", "/etc/passwd", "IllegalState");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelThrowsPredictException_itsCodeAndMessage() throws Exception {
    TestModel picky =
        TestModel.of(
            "picky",
            (ctx, input) -> {
              throw new PredictException(Status.Code.FAILED_PRECONDITION, "x");
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), picky)) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("picky", "", Batches.xStream(allocator(), 1))));

      assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
      assertThat(status.getDescription()).isEqualTo("x");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelReturnsWrongRowCount_internalNamingModel() throws Exception {
    TestModel longer =
        TestModel.of(
            "longer",
            (ctx, input) -> TestModel.floatColumn(ctx, "y", input.getRowCount() + 1, i -> 0f));
    try (InProcessPredict p = InProcessPredict.start(allocator(), longer)) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("longer", "", Batches.xStream(allocator(), 2))));

      assertCleanError(status, Status.Code.INTERNAL, "longer", "rows");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelReturnsUndeclaredSchema_internalNamingModel() throws Exception {
    TestModel liar =
        TestModel.of(
                "liar",
                (ctx, input) -> TestModel.floatColumn(ctx, "z", input.getRowCount(), i -> 0f))
            .output(TestModel.floatSchema(true, "y"));
    try (InProcessPredict p = InProcessPredict.start(allocator(), liar)) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("liar", "", Batches.xStream(allocator(), 2))));

      assertCleanError(status, Status.Code.INTERNAL, "liar", "schema");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxMessageBytesExceeded_resourceExhaustedNamingIt() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxMessageBytes(1024).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("scale", "", Batches.xStream(allocator(), 1000))));

      assertCleanError(status, Status.Code.RESOURCE_EXHAUSTED, "maxMessageBytes", "scale");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxBatchRowsExceeded_resourceExhaustedNamingIt() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxBatchRows(10).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Status status =
          statusOf(
              () -> p.blocking().predict(request("scale", "", Batches.xStream(allocator(), 11))));

      assertCleanError(status, Status.Code.RESOURCE_EXHAUSTED, "maxBatchRows", "scale");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxCallMemoryBytesExceeded_resourceExhaustedNamingIt() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxCallMemoryBytes(16 << 10).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Status status =
          statusOf(
              () ->
                  p.blocking().predict(request("scale", "", Batches.xStream(allocator(), 10_000))));

      assertCleanError(status, Status.Code.RESOURCE_EXHAUSTED, "maxCallMemoryBytes", "scale");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void manyCallsInARow_eachAnsweredAndMemoryReleased() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      for (int n = 0; n < 20; n++) {
        int[] rows = new int[1 + n % 4];
        Arrays.fill(rows, n + 1);
        PredictResponse response =
            p.blocking().predict(request("scale", "", Batches.xStream(allocator(), rows)));
        List<Integer> counts = Batches.decode(allocator(), response.getArrowIpc()).rowCounts();
        assertThat(counts).hasSize(rows.length).containsOnly(n + 1);
      }
      p.awaitCallMemoryReleased();
    }
  }
}
