/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class BatchesTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void builder_nullableFloat32_fromMaskOrBoxedArray() {
    try (VectorSchemaRoot root =
        Batches.builder(arrow.allocator())
            .float32("masked", new float[] {1, 99, 3}, new boolean[] {false, true, false})
            .float32("boxed", new Float[] {null, 2f, 3f})
            .build()) {
      Float4Vector masked = (Float4Vector) root.getVector("masked");
      Float4Vector boxed = (Float4Vector) root.getVector("boxed");
      assertThat(masked.isNull(1)).isTrue();
      assertThat(masked.get(0)).isEqualTo(1f);
      assertThat(masked.get(2)).isEqualTo(3f);
      assertThat(masked.getNullCount()).isEqualTo(1);
      assertThat(boxed.isNull(0)).isTrue();
      assertThat(boxed.get(1)).isEqualTo(2f);
      assertThat(root.getRowCount()).isEqualTo(3);
    }
  }

  @Test
  void builder_nullMasksForOtherNumericTypes_andMaskOfWrongLengthIsRejected() {
    try (VectorSchemaRoot root =
        Batches.builder(arrow.allocator())
            .float64("d", new double[] {1, 2}, new boolean[] {true, false})
            .int32("i", new int[] {1, 2}, new boolean[] {false, true})
            .int64("l", new long[] {1, 2}, null)
            .build()) {
      assertThat(((Float8Vector) root.getVector("d")).isNull(0)).isTrue();
      assertThat(((IntVector) root.getVector("i")).isNull(1)).isTrue();
      assertThat(((BigIntVector) root.getVector("l")).getNullCount()).isZero();
    }
    try (Batches.Builder builder = Batches.builder(arrow.allocator())) {
      assertThatThrownBy(() -> builder.float32("a", new float[] {1, 2}, new boolean[] {true}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'a'")
          .hasMessageContaining("isNull");
    }
  }

  @Test
  void builder_sameColumnTwice_isRejected() {
    try (Batches.Builder builder = Batches.builder(arrow.allocator())) {
      builder.float32("a", new float[] {1});
      assertThatThrownBy(() -> builder.int32("a", new int[] {1}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'a' was added twice");
    }
  }

  @Test
  void reusable_refillsTheSameRootAndBuffers_forBatchesOfEqualSize() {
    BufferAllocator allocator = arrow.allocator().newChildAllocator("batches", 0, Long.MAX_VALUE);
    try (Batches.Reusable batch = Batches.reusable(allocator)) {
      float[] a = new float[1000];
      String[] s = new String[1000];
      VectorSchemaRoot first = null;
      long dataAddress = 0;
      long bytesAfterFirst = 0;
      for (int round = 0; round < 50; round++) {
        for (int i = 0; i < a.length; i++) {
          a[i] = round * 10_000 + i;
          s[i] = i % 7 == 0 ? null : "r" + round;
        }
        VectorSchemaRoot root = batch.float32("a", a).utf8("s", s).root();
        Float4Vector va = (Float4Vector) root.getVector("a");
        if (first == null) {
          first = root;
          dataAddress = va.getDataBuffer().memoryAddress();
          bytesAfterFirst = allocator.getAllocatedMemory();
        }
        assertThat(root).isSameAs(first);
        assertThat(va.getDataBuffer().memoryAddress()).as("round %s", round).isEqualTo(dataAddress);
        assertThat(allocator.getAllocatedMemory()).isEqualTo(bytesAfterFirst);
        assertThat(root.getRowCount()).isEqualTo(1000);
        assertThat(va.get(999)).isEqualTo(round * 10_000 + 999);
        VarCharVector vs = (VarCharVector) root.getVector("s");
        assertThat(vs.isNull(7)).isTrue();
        assertThat(vs.getObject(8).toString()).isEqualTo("r" + round);
        assertThat(vs.getNullCount()).isEqualTo(143);
      }
    }
    allocator.close();
  }

  @Test
  void reusable_rowsTakesAPrefixOfEachArray_andALargerBatchGrowsTheVectors() {
    try (Batches.Reusable batch = Batches.reusable(arrow.allocator())) {
      float[] a = {1, 2, 3, 4};
      boolean[] aNull = {false, true, false, false};
      VectorSchemaRoot root = batch.rows(2).float32("a", a, aNull).int64("b", new long[] {5, 6, 7}).root();
      assertThat(root.getRowCount()).isEqualTo(2);
      assertThat(root.getVector("a").isNull(1)).isTrue();
      assertThat(((BigIntVector) root.getVector("b")).get(1)).isEqualTo(6L);

      float[] big = new float[10_000];
      long[] bigB = new long[10_000];
      big[9_999] = 42;
      bigB[9_999] = 43;
      root = batch.float32("a", big).int64("b", bigB).root();
      assertThat(root.getRowCount()).isEqualTo(10_000);
      assertThat(root.getVector("a").isNull(1)).as("last batch's null is gone").isFalse();
      assertThat(((Float4Vector) root.getVector("a")).get(9_999)).isEqualTo(42f);
      assertThat(((BigIntVector) root.getVector("b")).get(9_999)).isEqualTo(43L);

      assertThatThrownBy(() -> batch.rows(5).float32("a", a))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("at least 5");
    }
  }

  @Test
  void reusable_laterBatchWithOtherColumns_failsNamingThem_andTheNextBatchStartsAfresh() {
    try (Batches.Reusable batch = Batches.reusable(arrow.allocator())) {
      batch.float32("a", new float[] {1}).float32("b", new float[] {2}).root();
      assertThatThrownBy(() -> batch.float32("b", new float[] {1}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'a'")
          .hasMessageContaining("'b'");
      assertThatThrownBy(() -> batch.float32("a", new float[] {1}).int32("b", new int[] {1}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("column 'b' was FloatingPoint(SINGLE)");
      assertThatThrownBy(() -> batch.float32("a", new float[] {1}).root())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("[b]");
      VectorSchemaRoot root = batch.float32("a", new float[] {7}).float32("b", new float[] {8}).root();
      assertThat(((Float4Vector) root.getVector("b")).get(0)).isEqualTo(8f);
    }
  }

  @Test
  void reusable_streamsManyBatchesThroughOneCall() throws Exception {
    try (InProcessHarness harness =
            new InProcessHarness(arrow.allocator(), new TestModels.RowSumModel());
        Batches.Reusable batch = Batches.reusable(arrow.allocator());
        PredictCall call = harness.client.openStream(ModelRef.of("row-sum"))) {
      float[] a = new float[64];
      float[] b = new float[64];
      int batches = 40;
      List<Throwable> writerFailure = new ArrayList<>();
      Thread writer =
          new Thread(
              () -> {
                try {
                  for (int k = 0; k < batches; k++) {
                    int rows = k == batches - 1 ? 5 : a.length; // a short last batch
                    for (int i = 0; i < rows; i++) {
                      a[i] = k;
                      b[i] = i;
                    }
                    call.write(batch.rows(rows).float32("a", a).float32("b", b).root());
                  }
                  call.complete();
                } catch (RuntimeException e) {
                  writerFailure.add(e);
                }
              });
      writer.start();
      int k = 0;
      PredictionStream results = call.results();
      while (results.next()) {
        Float4Vector score = (Float4Vector) results.root().getVector("score");
        assertThat(results.root().getRowCount()).isEqualTo(k == batches - 1 ? 5 : 64);
        assertThat(score.get(3)).isEqualTo(k + 3f);
        k++;
      }
      writer.join(10_000);
      assertThat(writerFailure).isEmpty();
      assertThat(k).isEqualTo(batches);
    }
  }
}
