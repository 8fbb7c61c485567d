/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.custom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Serves the custom model on the in-process transport and calls it with the real client. */
class LinearScoreModelTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void scoresRowsWithTheBiasParameter_andRejectsInputWithoutItsColumns() throws Exception {
    String name = InProcessServerBuilder.generateName();
    try (PredictService service =
        PredictService.builder(arrow.allocator()).addModel(new LinearScoreModel()).build()) {
      Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try (PredictClient client = PredictClient.create(channel, arrow.allocator())) {
        try (VectorSchemaRoot input =
                Batches.builder(arrow.allocator())
                    .float32("x", new float[] {2, 4})
                    .float32("y", new float[] {1, 0.5f})
                    .build();
            VectorSchemaRoot output =
                client.predict(ModelRef.of("linear-score").withParameter("bias", "10"), input)) {
          Float4Vector score = (Float4Vector) output.getVector("score");
          assertThat(score.get(0)).isEqualTo(0.5f * 2 + 2 * 1 + 10);
          assertThat(score.get(1)).isEqualTo(0.5f * 4 + 2 * 0.5f + 10);
        }
        try (VectorSchemaRoot wrong =
            Batches.builder(arrow.allocator()).float32("x", new float[] {1}).build()) {
          assertThatThrownBy(() -> client.predict("linear-score", wrong))
              .isInstanceOfSatisfying(
                  PredictException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
              .hasMessageContaining("'y'");
        }
      } finally {
        channel.shutdownNow();
        server.shutdownNow().awaitTermination();
      }
    }
  }
}
