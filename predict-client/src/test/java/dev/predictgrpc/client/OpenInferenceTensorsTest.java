/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import inference.GRPCInferenceServiceGrpc;
import inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link OpenInferenceTensors} against the server's Open Inference Protocol, with an echo model.
 */
class OpenInferenceTensorsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private PredictService service;
  private Server server;
  private ManagedChannel channel;
  private GRPCInferenceServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    service =
        PredictService.builder(arrow.allocator()).addModel(new TestModels.EchoModel()).build();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(service.openInferenceService())
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow();
    server.shutdownNow().awaitTermination();
    service.close();
  }

  @Test
  void batch_roundTripsThroughTensors_rawAndTyped() {
    try (VectorSchemaRoot batch =
        Batches.builder(arrow.allocator())
            .float32("x_0", new float[] {1, 2, 3})
            .float32("x_1", new float[] {4, 5, 6})
            .int64("id", new long[] {7, 8, Long.MIN_VALUE})
            .float64("w", new double[] {0.5, -1, 1e300})
            .bool("flag", new boolean[] {true, false, true})
            .utf8("s", new String[] {"a", "héllo", ""})
            .build()) {
      for (boolean raw : new boolean[] {true, false}) {
        ModelInferRequest request = OpenInferenceTensors.request("echo", batch, raw).build();
        assertThat(request.getInputsList())
            .extracting(i -> i.getName())
            .containsExactly("x", "id", "w", "flag", "s");
        assertThat(request.getInputs(0).getShapeList()).containsExactly(3L, 2L);
        assertThat(request.getRawInputContentsCount()).isEqualTo(raw ? 5 : 0);
        // Row-major: x is [[1, 4], [2, 5], [3, 6]].
        if (!raw) {
          assertThat(request.getInputs(0).getContents().getFp32ContentsList())
              .containsExactly(1f, 4f, 2f, 5f, 3f, 6f);
        }
        ModelInferResponse response = stub.modelInfer(request);
        try (VectorSchemaRoot out = OpenInferenceTensors.outputs(response, arrow.allocator())) {
          assertThat(out.getRowCount()).isEqualTo(3);
          assertThat(out.getSchema().getFields())
              .extracting(f -> f.getName())
              .containsExactly("x_0", "x_1", "id", "w", "flag", "s");
          for (int r = 0; r < 3; r++) {
            assertThat(((Float4Vector) out.getVector("x_1")).get(r))
                .isEqualTo(((Float4Vector) batch.getVector("x_1")).get(r));
            assertThat(((BigIntVector) out.getVector("id")).get(r))
                .isEqualTo(((BigIntVector) batch.getVector("id")).get(r));
            assertThat(((Float8Vector) out.getVector("w")).get(r))
                .isEqualTo(((Float8Vector) batch.getVector("w")).get(r));
            assertThat(((BitVector) out.getVector("flag")).get(r))
                .isEqualTo(((BitVector) batch.getVector("flag")).get(r));
            assertThat(out.getVector("s").getObject(r))
                .isEqualTo(batch.getVector("s").getObject(r));
          }
        }
      }
    }
  }

  @Test
  void malformedResponse_isInvalidArgument_andLeaksNothing() {
    ModelInferResponse response =
        ModelInferResponse.newBuilder()
            .addOutputs(
                ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName("ok")
                    .setDatatype("INT32")
                    .addShape(1))
            .addOutputs(
                ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName("y")
                    .setDatatype("FP32")
                    .addShape(2))
            .addRawOutputContents(ByteString.copyFrom(new byte[4]))
            .addRawOutputContents(ByteString.copyFrom(new byte[5]))
            .build();
    assertThatThrownBy(() -> OpenInferenceTensors.outputs(response, arrow.allocator()))
        .isInstanceOf(dev.predictgrpc.common.PredictException.class)
        .hasMessageContaining("output 'y'");
  }

  @Test
  void columnsWithNulls_cannotBeSent() {
    try (VectorSchemaRoot batch =
        Batches.builder(arrow.allocator()).float32("x", new Float[] {1f, null}).build()) {
      assertThatThrownBy(() -> OpenInferenceTensors.request("echo", batch, true))
          .isInstanceOf(dev.predictgrpc.common.PredictException.class)
          .hasMessageContaining("input 'x' has 1 nulls");
    }
  }
}
