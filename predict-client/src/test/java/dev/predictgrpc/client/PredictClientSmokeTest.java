/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PredictClientSmokeTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void unaryAndStream_roundTrip() throws Exception {
    try (InProcessHarness h = new InProcessHarness(arrow.allocator(), new TestModels.RowSumModel())) {
      try (VectorSchemaRoot input =
              Batches.builder(arrow.allocator())
                  .float32("a", new float[] {1, 2, 3})
                  .float32("b", new float[] {10, 20, 30})
                  .build();
          VectorSchemaRoot out = h.client.predict("row-sum", input)) {
        assertThat(((Float4Vector) out.getVector("score")).get(2)).isEqualTo(33f);
      }
      List<VectorSchemaRoot> batches = new ArrayList<>();
      for (int b = 0; b < 5; b++) {
        batches.add(
            Batches.builder(arrow.allocator())
                .float32("a", new float[] {b, b})
                .float32("b", new float[] {1, 2})
                .build());
      }
      try (PredictionStream results =
          h.client.predictStream(ModelRef.of("row-sum"), batches.iterator())) {
        int i = 0;
        while (results.next()) {
          assertThat(((Float4Vector) results.root().getVector("score")).get(1)).isEqualTo(i + 2f);
          i++;
        }
        assertThat(i).isEqualTo(5);
      }
      batches.forEach(VectorSchemaRoot::close);
      assertThat(h.serverBytesAfterCalls()).isZero();
    }
  }
}
