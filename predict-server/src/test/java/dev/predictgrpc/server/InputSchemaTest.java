/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A model that declares its input schema (non-nullable float32 columns {@code a} and {@code b})
 * gets only conforming batches, in declared order; everything else is INVALID_ARGUMENT naming the
 * column. Each rule is checked on both Predict and PredictStream.
 */
class InputSchemaTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Column names the model saw, per batch. */
  private final List<List<String>> seen = new CopyOnWriteArrayList<>();

  /** d = column0 - column1: read by position, so it is only right if the server ordered them. */
  private TestModel pairModel() {
    return TestModel.of(
            "pair",
            (ctx, input) -> {
              seen.add(input.getSchema().getFields().stream().map(Field::getName).toList());
              Float4Vector first = (Float4Vector) input.getVector(0);
              Float4Vector second = (Float4Vector) input.getVector(1);
              return TestModel.floatColumn(
                  ctx, "d", input.getRowCount(), i -> first.get(i) - second.get(i));
            })
        .input(TestModel.floatSchema(false, "a", "b"));
  }

  private InProcessPredict start() {
    return InProcessPredict.start(arrow.allocator(), pairModel());
  }

  private ByteString floats(String... names) {
    return Batches.floatStream(arrow.allocator(), true, new int[] {3, 2}, names);
  }

  /** A stream of one batch holding {@code vectors}, which this method closes. */
  private static ByteString streamOf(FieldVector... vectors) {
    try (VectorSchemaRoot root = VectorSchemaRoot.of(vectors)) {
      root.setRowCount(vectors[0].getValueCount());
      return Batches.stream(root);
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void declaredColumnsInDeclaredOrder_ok(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      Batches.Decoded out = rpc.call(p, "pair", floats("a", "b")).ok();
      assertThat(out.rowCounts()).containsExactly(3, 2);
      assertThat(out.batches().get(0).column("d")).containsOnly(-0.5f);
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void columnsInAnotherOrder_acceptedAndHandedToModelInDeclaredOrder(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      // Column c holds value + c * 0.5, so here b = value and a = value + 0.5.
      Batches.Decoded out = rpc.call(p, "pair", floats("b", "a")).ok();

      assertThat(seen).containsOnly(List.of("a", "b"));
      assertThat(out.rowCounts()).containsExactly(3, 2);
      assertThat(out.batches().get(0).column("d")).containsOnly(0.5f);
      assertThat(out.batches().get(1).column("d")).containsOnly(0.5f);
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void callsAlternatingColumnOrders_eachGetTheirOwnOrder(Rpc rpc) throws Exception {
    // The server remembers the order it worked out for the last schema; a call with the other
    // order must not reuse it.
    try (InProcessPredict p = start()) {
      for (int i = 0; i < 3; i++) {
        Batches.Decoded inOrder = rpc.call(p, "pair", floats("a", "b")).ok();
        Batches.Decoded swapped = rpc.call(p, "pair", floats("b", "a")).ok();
        // The same order twice in a row: the second call reuses the remembered order.
        Batches.Decoded swappedAgain = rpc.call(p, "pair", floats("b", "a")).ok();

        assertThat(inOrder.batches().get(0).column("d")).containsOnly(-0.5f);
        assertThat(swapped.batches().get(0).column("d")).containsOnly(0.5f);
        assertThat(swappedAgain.batches().get(0).column("d")).containsOnly(0.5f);
      }
      assertThat(seen).containsOnly(List.of("a", "b"));
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void missingColumn_invalidArgumentNamingIt(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      Status status = rpc.call(p, "pair", floats("a")).status();

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "'b'", "pair");
      assertThat(seen).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void extraColumn_invalidArgumentNamingIt(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      Status status = rpc.call(p, "pair", floats("a", "b", "extra_col")).status();

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "extra_col", "pair");
      assertThat(seen).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void wrongType_invalidArgumentNamingColumnAndBothTypes(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      IntVector a = new IntVector("a", arrow.allocator());
      a.allocateNew(2);
      a.set(0, 1);
      a.set(1, 2);
      a.setValueCount(2);
      Float4Vector b = floatVector("b", 1f, 2f);

      Status status = rpc.call(p, "pair", streamOf(a, b)).status();

      assertCleanError(
          status,
          Status.Code.INVALID_ARGUMENT,
          "'a'",
          "Int(32, true)",
          "FloatingPoint(SINGLE)",
          "pair");
      assertThat(seen).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void nullsInNonNullableColumn_invalidArgumentNamingIt(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      Float4Vector a = floatVector("a", 1f, 2f, 3f);
      a.setNull(1);
      Float4Vector b = floatVector("b", 1f, 2f, 3f);

      Status status = rpc.call(p, "pair", streamOf(a, b)).status();

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "'a'", "null", "pair");
      assertThat(seen).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void duplicateColumnName_invalidArgumentNamingIt(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      Status status = rpc.call(p, "pair", floats("a", "b", "a")).status();

      assertCleanError(status, Status.Code.INVALID_ARGUMENT, "'a'");
      p.assertServesGoodCalls();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void zeroRowBatch_okWithZeroRowOutputBatch(Rpc rpc) throws Exception {
    try (InProcessPredict p = start()) {
      ByteString empty = Batches.floatStream(arrow.allocator(), true, new int[] {0}, "a", "b");

      Batches.Decoded out = rpc.call(p, "pair", empty).ok();

      assertThat(out.rowCounts()).containsExactly(0);
      assertThat(out.schema().getFields()).extracting(Field::getName).containsExactly("d");
    }
  }

  private Float4Vector floatVector(String name, float... values) {
    Float4Vector v = new Float4Vector(name, arrow.allocator());
    v.allocateNew(values.length);
    for (int i = 0; i < values.length; i++) {
      v.set(i, values[i]);
    }
    v.setValueCount(values.length);
    return v;
  }
}
