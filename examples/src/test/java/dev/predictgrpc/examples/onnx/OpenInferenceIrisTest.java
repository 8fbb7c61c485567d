/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.server.ModelStats;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import inference.GRPCInferenceServiceGrpc;
import inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import inference.OpenInferenceGrpc.InferTensorContents;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferRequest.InferInputTensor;
import inference.OpenInferenceGrpc.ModelInferRequest.InferRequestedOutputTensor;
import inference.OpenInferenceGrpc.ModelInferResponse;
import inference.OpenInferenceGrpc.ModelMetadataRequest;
import inference.OpenInferenceGrpc.ModelMetadataResponse;
import inference.OpenInferenceGrpc.ModelMetadataResponse.TensorMetadata;
import inference.OpenInferenceGrpc.ModelReadyRequest;
import inference.OpenInferenceGrpc.ServerLiveRequest;
import inference.OpenInferenceGrpc.ServerMetadataRequest;
import inference.OpenInferenceGrpc.ServerReadyRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Open Inference Protocol on a {@link PredictServer} hosting the bundled iris ONNX model, over
 * loopback TCP, called with stubs generated from the canonical {@code open_inference_grpc.proto},
 * as any Triton or KServe client would call it.
 */
class OpenInferenceIrisTest {
  /** Three iris rows, one of each class, row-major as a [3, 4] tensor. */
  private static final float[] ROWS = {
    5.1f, 3.5f, 1.4f, 0.2f, 6.0f, 2.7f, 5.1f, 1.6f, 6.7f, 3.0f, 5.2f, 2.3f
  };

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private PredictServer server;
  private ManagedChannel channel;
  private GRPCInferenceServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    server =
        PredictServer.builder(arrow.allocator())
            .bindAddress("127.0.0.1")
            .addModel(
                OnnxModel.builder("iris", OnnxModelTest.resource("iris_gbt.onnx"))
                    .description("iris classifier")
                    .build())
            .openInferenceProtocol(true)
            .build()
            .start();
    channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build();
    stub =
        GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  @Test
  void metadataAndReadiness_describeIrisAsTensors() {
    assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
    assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
    assertThat(stub.serverMetadata(ServerMetadataRequest.getDefaultInstance()).getName())
        .isEqualTo("predict-grpc");
    assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("iris").build()).getReady())
        .isTrue();
    assertThat(
            stub.modelReady(ModelReadyRequest.newBuilder().setName("iris").setVersion("7").build())
                .getReady())
        .isFalse();
    assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("nope").build()).getReady())
        .isFalse();

    ModelMetadataResponse metadata =
        stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("iris").build());
    assertThat(metadata.getName()).isEqualTo("iris");
    assertThat(metadata.getVersionsList()).containsExactly("1");
    assertThat(metadata.getPlatform()).isEqualTo("predict-grpc");
    assertThat(metadata.getPropertiesMap()).containsEntry("description", "iris classifier");
    assertThat(metadata.getInputsList()).containsExactly(tensor("features", "FP32", -1, 4));
    assertThat(metadata.getOutputsList())
        .containsExactly(tensor("label", "INT64", -1), tensor("probabilities", "FP32", -1, 3));
  }

  @Test
  void typedAndRawInference_matchPredictOnTheSameRows() throws Exception {
    long[] expectedLabels = new long[3];
    float[] expectedProbabilities = new float[9];
    predictDirectly(expectedLabels, expectedProbabilities);

    ModelInferResponse typed = stub.modelInfer(typedRequest(ROWS, 3, 4).setId("req-1").build());
    assertThat(typed.getModelName()).isEqualTo("iris");
    assertThat(typed.getModelVersion()).isEqualTo("1");
    assertThat(typed.getId()).isEqualTo("req-1");
    assertThat(typed.getRawOutputContentsCount()).isZero();
    assertThat(typed.getOutputsList())
        .extracting(o -> o.getName())
        .containsExactly("label", "probabilities");
    assertThat(typed.getOutputs(0).getDatatype()).isEqualTo("INT64");
    assertThat(typed.getOutputs(0).getShapeList()).containsExactly(3L);
    assertThat(typed.getOutputs(0).getContents().getInt64ContentsList())
        .containsExactly(expectedLabels[0], expectedLabels[1], expectedLabels[2]);
    assertThat(typed.getOutputs(1).getShapeList()).containsExactly(3L, 3L);
    float[] probabilities = new float[9];
    for (int i = 0; i < 9; i++) {
      probabilities[i] = typed.getOutputs(1).getContents().getFp32Contents(i);
    }
    assertThat(probabilities).containsExactly(expectedProbabilities);
    assertThat(expectedLabels).containsExactly(0, 1, 2);

    // Raw in, raw out (what Triton's clients send and expect), little-endian row-major.
    ByteBuffer raw = ByteBuffer.allocate(ROWS.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float value : ROWS) {
      raw.putFloat(value);
    }
    ModelInferResponse rawResponse =
        stub.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName("iris")
                .addInputs(input("features", "FP32", 3, 4))
                .addRawInputContents(ByteString.copyFrom(raw.array()))
                .build());
    assertThat(rawResponse.getOutputs(0).hasContents()).isFalse();
    assertThat(rawResponse.getRawOutputContentsCount()).isEqualTo(2);
    ByteBuffer labels =
        rawResponse.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(labels.remaining()).isEqualTo(3 * 8);
    for (long expected : expectedLabels) {
      assertThat(labels.getLong()).isEqualTo(expected);
    }
    ByteBuffer rawProbabilities =
        rawResponse.getRawOutputContents(1).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    for (float expected : expectedProbabilities) {
      assertThat(rawProbabilities.getFloat()).isEqualTo(expected);
    }
  }

  @Test
  void requestedOutputs_selectAndOrderTheOutputs() {
    ModelInferResponse response =
        stub.modelInfer(
            typedRequest(ROWS, 3, 4)
                .addOutputs(InferRequestedOutputTensor.newBuilder().setName("probabilities"))
                .build());
    assertThat(response.getOutputsList())
        .extracting(o -> o.getName())
        .containsExactly("probabilities");

    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    typedRequest(ROWS, 3, 4)
                        .addOutputs(InferRequestedOutputTensor.newBuilder().setName("scores"))
                        .build()))
        .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "output 'scores'"));
  }

  @Test
  void wrongShapesDatatypesAndContents_areInvalidArgumentNamingTheInput() {
    float[] five = new float[15];
    assertThatThrownBy(() -> stub.modelInfer(typedRequest(five, 3, 5).build()))
        .satisfies(
            e ->
                assertStatus(e, Status.Code.INVALID_ARGUMENT, "input 'features' has shape [3, 5]"));
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    ModelInferRequest.newBuilder()
                        .setModelName("iris")
                        .addInputs(input("features", "FP32", 12).setContents(fp32(ROWS)))
                        .build()))
        .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "input 'features'"));
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    ModelInferRequest.newBuilder()
                        .setModelName("iris")
                        .addInputs(
                            input("features", "FP64", 3, 4)
                                .setContents(InferTensorContents.newBuilder().addFp64Contents(1)))
                        .build()))
        .satisfies(
            e ->
                assertStatus(
                    e,
                    Status.Code.INVALID_ARGUMENT,
                    "input 'features' has datatype FP64",
                    "expects FP32"));
    // A shape that declares more elements than were sent: refused before anything is allocated.
    assertThatThrownBy(() -> stub.modelInfer(typedRequest(ROWS, 1_000_000_000, 4).build()))
        .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "input 'features'"));
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    ModelInferRequest.newBuilder()
                        .setModelName("iris")
                        .addInputs(input("features", "FP32", 3, 4))
                        .addRawInputContents(ByteString.copyFrom(new byte[47]))
                        .build()))
        .satisfies(
            e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "input 'features'", "47 bytes"));
    assertThatThrownBy(
            () ->
                stub.modelInfer(
                    ModelInferRequest.newBuilder()
                        .setModelName("iris")
                        .addInputs(input("petals", "FP32", 3).setContents(fp32(1, 2, 3)))
                        .build()))
        .satisfies(
            e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "no input 'petals'", "features"));
    assertThatThrownBy(
            () -> stub.modelInfer(ModelInferRequest.newBuilder().setModelName("iris").build()))
        .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "needs input 'features'"));

    // The refused requests count as failed requests in the model's statistics, as for Predict.
    ModelStats stats = server.service().statistics("iris", "");
    assertThat(stats.requests()).isEqualTo(7);
    assertThat(stats.errors()).isEqualTo(7);
    // And the server still answers a good call.
    assertThat(stub.modelInfer(typedRequest(ROWS, 3, 4).build()).getOutputsCount()).isEqualTo(2);
  }

  @Test
  void unknownModelOrVersion_isNotFound() {
    assertThatThrownBy(() -> stub.modelInfer(typedRequest(ROWS, 3, 4).setModelName("nope").build()))
        .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "nope"));
    assertThatThrownBy(() -> stub.modelInfer(typedRequest(ROWS, 3, 4).setModelVersion("2").build()))
        .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND));
    assertThatThrownBy(
            () -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("nope").build()))
        .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "nope"));
  }

  @Test
  void withoutTheOptIn_theProtocolIsUnimplemented() throws Exception {
    try (PredictServer plain =
        PredictServer.builder(arrow.allocator())
            .bindAddress("127.0.0.1")
            .addModel(OnnxModel.builder("iris", OnnxModelTest.resource("iris_gbt.onnx")).build())
            .build()
            .start()) {
      ManagedChannel other =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", plain.port(), InsecureChannelCredentials.create())
              .build();
      try {
        assertThatThrownBy(
                () ->
                    GRPCInferenceServiceGrpc.newBlockingStub(other)
                        .serverLive(ServerLiveRequest.getDefaultInstance()))
            .satisfies(e -> assertStatus(e, Status.Code.UNIMPLEMENTED));
      } finally {
        other.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  /** The same rows through {@code Predict}, with the model's own column names. */
  private void predictDirectly(long[] labels, float[] probabilities) {
    float[][] columns = new float[4][3];
    for (int r = 0; r < 3; r++) {
      for (int c = 0; c < 4; c++) {
        columns[c][r] = ROWS[r * 4 + c];
      }
    }
    try (PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), arrow.allocator()).build();
        VectorSchemaRoot input =
            Batches.builder(arrow.allocator())
                .float32("sepal_length", columns[0])
                .float32("sepal_width", columns[1])
                .float32("petal_length", columns[2])
                .float32("petal_width", columns[3])
                .build();
        VectorSchemaRoot output = client.predict("iris", input)) {
      BigIntVector label = (BigIntVector) output.getVector("label");
      for (int r = 0; r < 3; r++) {
        labels[r] = label.get(r);
        for (int k = 0; k < 3; k++) {
          probabilities[r * 3 + k] = ((Float4Vector) output.getVector("probabilities_" + k)).get(r);
        }
      }
    }
  }

  private static ModelInferRequest.Builder typedRequest(float[] values, long rows, long width) {
    return ModelInferRequest.newBuilder()
        .setModelName("iris")
        .addInputs(input("features", "FP32", rows, width).setContents(fp32(values)));
  }

  private static InferInputTensor.Builder input(String name, String datatype, long... shape) {
    InferInputTensor.Builder input =
        InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
    for (long dim : shape) {
      input.addShape(dim);
    }
    return input;
  }

  private static InferTensorContents fp32(float... values) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (float value : values) {
      contents.addFp32Contents(value);
    }
    return contents.build();
  }

  private static TensorMetadata tensor(String name, String datatype, long... shape) {
    TensorMetadata.Builder tensor = TensorMetadata.newBuilder().setName(name).setDatatype(datatype);
    for (long dim : shape) {
      tensor.addShape(dim);
    }
    return tensor.build();
  }

  private static void assertStatus(Throwable e, Status.Code code, String... fragments) {
    assertThat(e).isInstanceOf(StatusRuntimeException.class);
    Status status = ((StatusRuntimeException) e).getStatus();
    assertThat(status.getCode()).as(status.toString()).isEqualTo(code);
    for (String fragment : fragments) {
      assertThat(status.getDescription()).contains(fragment);
    }
  }
}
