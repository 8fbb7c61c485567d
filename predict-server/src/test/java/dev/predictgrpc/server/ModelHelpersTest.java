/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Models written with {@link Columns} and {@link PredictContext#output(int)}, served for real: the
 * answers, the errors clients see, and that failures and cancellations leak nothing.
 */
class ModelHelpersTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Held so the handler stays attached: java.util.logging keeps loggers weakly. */
  private final Logger serverLogger = Logger.getLogger("dev.predictgrpc.server");

  private final List<LogRecord> warnings = new CopyOnWriteArrayList<>();
  private final Handler capture =
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

  @BeforeEach
  void captureWarnings() {
    serverLogger.addHandler(capture);
  }

  @AfterEach
  void release() {
    serverLogger.removeHandler(capture);
  }

  /** y = 2x and a label, null where x is null; reads x with Columns, writes with OutputBuilder. */
  private static TestModel labelModel() {
    return TestModel.of(
        "label",
        (ctx, input) -> {
          Float4Vector x = Columns.float32(input, "x");
          try (OutputBuilder out = ctx.output(input.getRowCount())) {
            Float4Vector y = out.float32("y");
            VarCharVector label = out.utf8("label");
            for (int i = 0; i < out.rows(); i++) {
              if (!x.isNull(i)) {
                y.set(i, 2 * x.get(i));
                label.setSafe(i, (x.get(i) >= 1000 ? "big" : "small").getBytes(StandardCharsets.UTF_8));
              }
            }
            return out.build();
          }
        });
  }

  @Test
  void modelWithHelpers_answers_andAWrongColumnTypeIsInvalidArgumentNamingIt() throws Exception {
    try (InProcessPredict server = InProcessPredict.start(arrow.allocator(), labelModel())) {
      PredictResponse response =
          server.blocking().predict(InProcessPredict.request("label", "", Batches.xStream(arrow.allocator(), 2, 3)));
      Batches.Decoded decoded = Batches.decode(arrow.allocator(), response.getArrowIpc());
      assertThat(decoded.rowCounts()).containsExactly(2, 3);
      assertThat(decoded.batches().get(1).column("y")).containsExactly(2000f, 2002f, 2004f);
      assertThat(decoded.batches().get(0).column("label").get(0).toString()).isEqualTo("small");

      ByteString ints;
      try (VectorSchemaRoot root =
          VectorSchemaRoot.of(new IntVector("x", arrow.allocator()))) {
        ((IntVector) root.getVector("x")).allocateNew(1);
        root.setRowCount(1);
        ints = Batches.stream(root);
      }
      assertThatThrownBy(() -> server.blocking().predict(InProcessPredict.request("label", "", ints)))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription())
                    .isEqualTo("input column 'x' has type Int(32, true) (expected: FloatingPoint(SINGLE))");
              });
      server.assertServesGoodCalls();
    }
    assertThat(warnings).as("nothing logged").isEmpty();
  }

  @Test
  void modelFailingHalfWayThroughItsOutput_leaksNothing() throws Exception {
    TestModel failing =
        TestModel.of(
            "failing",
            (ctx, input) -> {
              try (OutputBuilder out = ctx.output(input.getRowCount())) {
                out.float32("y");
                out.utf8("label").setSafe(0, "x".getBytes(StandardCharsets.UTF_8));
                throw new IllegalStateException("model bug");
              }
            });
    try (InProcessPredict server = InProcessPredict.start(arrow.allocator(), failing)) {
      assertThatThrownBy(
              () -> server.blocking().predict(
                  InProcessPredict.request("failing", "", Batches.xStream(arrow.allocator(), 4))))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
      server.awaitCallMemoryReleased();
    }
    // The model failure itself is logged (with its error id); a leak would add a SEVERE record.
    assertThat(warnings).noneMatch(r -> r.getLevel() == Level.SEVERE);
  }

  @Test
  void modelThatStopsOnCancellationAsDocumented_logsNothingAndLeaksNothing() throws Exception {
    CountDownLatch sawCancellation = new CountDownLatch(1);
    TestModel patient =
        TestModel.of(
            "patient",
            (ctx, input) -> {
              try (OutputBuilder out = ctx.output(input.getRowCount())) {
                out.float32("y");
                // Stands for long work polled between units; bounded so a broken test cannot hang.
                for (int i = 0; i < 10_000 && !ctx.isCancelled(); i++) {
                  Thread.sleep(5);
                }
                if (ctx.isCancelled()) {
                  sawCancellation.countDown();
                  throw new PredictException(Status.Code.CANCELLED, "stopped: the call was cancelled");
                }
                return out.build();
              }
            });
    try (InProcessPredict server =
        InProcessPredict.builder(arrow.allocator()).model(patient).threaded().start()) {
      assertThatThrownBy(
              () -> server.blocking().withDeadlineAfter(200, TimeUnit.MILLISECONDS).predict(
                  InProcessPredict.request("patient", "", Batches.xStream(arrow.allocator(), 3))))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      assertThat(sawCancellation.await(10, TimeUnit.SECONDS)).isTrue();
      server.awaitCallMemoryReleased();
    }
    assertThat(warnings).as("no model failure or leak logged").isEmpty();
  }
}
