/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import inference.GRPCInferenceServiceGrpc;
import inference.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import inference.OpenInferenceGrpc.InferParameter;
import inference.OpenInferenceGrpc.InferTensorContents;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferRequest.InferInputTensor;
import inference.OpenInferenceGrpc.ModelInferResponse;
import inference.OpenInferenceGrpc.ModelInferResponse.InferOutputTensor;
import inference.OpenInferenceGrpc.ModelMetadataRequest;
import inference.OpenInferenceGrpc.ModelReadyRequest;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.TimeStampSecVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Open Inference Protocol binding mounted from {@link PredictService#openInferenceService()} on
 * an in-process server: every datatype both ways, input checks, limits, authentication and
 * authorization, and batching across OIP calls.
 */
class OpenInferenceServiceTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<Runnable> cleanup = new ArrayList<>();

  @AfterEach
  void stop() {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).run();
    }
  }

  /** Serves {@code models} (with OIP) on an in-process server; returns a stub for it. */
  private GRPCInferenceServiceBlockingStub serve(
      Consumer<PredictService.Builder> configure, ModelService... models) throws Exception {
    PredictService.Builder builder = PredictService.builder(arrow.allocator());
    for (ModelService model : models) {
      builder.addModel(model);
    }
    configure.accept(builder);
    PredictService service = builder.build();
    String name = InProcessServerBuilder.generateName();
    ExecutorService executor = Executors.newFixedThreadPool(8);
    Server server =
        InProcessServerBuilder.forName(name)
            .executor(executor)
            .addService(service)
            .addService(service.openInferenceService())
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    cleanup.add(
        () -> {
          try {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          service.close();
          executor.shutdownNow();
        });
    return GRPCInferenceServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private static TestModel echo() {
    return TestModel.of("echo", (ctx, input) -> input);
  }

  @Test
  void echo_returnsEveryDatatypeAsSent_typed() throws Exception {
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, echo());
    InferTensorContents.Builder strings = InferTensorContents.newBuilder();
    strings.addBytesContents(ByteString.copyFromUtf8("héllo"));
    strings.addBytesContents(ByteString.copyFromUtf8(""));
    List<InferInputTensor> inputs =
        List.of(
            input("b", "BOOL", 2)
                .setContents(
                    InferTensorContents.newBuilder().addBoolContents(true).addBoolContents(false))
                .build(),
            input("i8", "INT8", 2).setContents(ints(-128, 127)).build(),
            input("i16", "INT16", 2).setContents(ints(-32768, 32767)).build(),
            input("i32", "INT32", 2).setContents(ints(Integer.MIN_VALUE, 7)).build(),
            input("i64", "INT64", 2, 1)
                .setContents(
                    InferTensorContents.newBuilder()
                        .addInt64Contents(Long.MIN_VALUE)
                        .addInt64Contents(-1))
                .build(),
            input("u8", "UINT8", 2).setContents(uints(0, 255)).build(),
            input("u16", "UINT16", 2).setContents(uints(0, 65535)).build(),
            input("u32", "UINT32", 2).setContents(uints(0, -1)).build(),
            input("u64", "UINT64", 2)
                .setContents(
                    InferTensorContents.newBuilder().addUint64Contents(-1L).addUint64Contents(3))
                .build(),
            input("f32", "FP32", 2, 3)
                .setContents(
                    InferTensorContents.newBuilder()
                        .addAllFp32Contents(List.of(1f, 2f, 3f, 4f, 5f, Float.NaN)))
                .build(),
            input("f64", "FP64", 2)
                .setContents(
                    InferTensorContents.newBuilder().addFp64Contents(0.1).addFp64Contents(-2.5e300))
                .build(),
            input("s", "BYTES", 2).setContents(strings).build());
    ModelInferResponse response =
        stub.modelInfer(
            ModelInferRequest.newBuilder().setModelName("echo").addAllInputs(inputs).build());

    assertThat(response.getRawOutputContentsCount()).isZero();
    assertThat(response.getOutputsCount()).isEqualTo(inputs.size());
    for (int i = 0; i < inputs.size(); i++) {
      InferInputTensor sent = inputs.get(i);
      InferOutputTensor got = response.getOutputs(i);
      assertThat(got.getName()).isEqualTo(sent.getName());
      assertThat(got.getDatatype()).isEqualTo(sent.getDatatype());
      assertThat(got.getShapeList()).isEqualTo(sent.getShapeList());
      assertThat(got.getContents()).as(sent.getName()).isEqualTo(sent.getContents());
    }
  }

  @Test
  void echo_returnsRawContentsByteForByte_fp16AndBytesIncluded() throws Exception {
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, echo());
    ByteBuffer strings = ByteBuffer.allocate(4 + 2 + 4 + 0 + 4 + 3).order(ByteOrder.LITTLE_ENDIAN);
    strings
        .putInt(2)
        .put("ab".getBytes(StandardCharsets.UTF_8))
        .putInt(0)
        .putInt(3)
        .put("xyz".getBytes(StandardCharsets.UTF_8));
    List<ByteString> raw =
        List.of(
            ByteString.copyFrom(new byte[] {1, 0, 1}),
            ByteString.copyFrom(new byte[] {0x00, 0x3c, 0x00, (byte) 0xc0, 0x00, 0x7e}),
            ByteString.copyFrom(strings.array()),
            littleEndianInts(1, 2, 3, 4, 5, 6));
    ModelInferResponse response =
        stub.modelInfer(
            ModelInferRequest.newBuilder()
                .setModelName("echo")
                .addInputs(input("b", "BOOL", 3))
                .addInputs(input("h", "FP16", 3))
                .addInputs(input("s", "BYTES", 3))
                .addInputs(input("m", "INT32", 3, 2))
                .addAllRawInputContents(raw)
                .build());

    assertThat(response.getRawOutputContentsList()).isEqualTo(raw);
    assertThat(response.getOutputsList()).allSatisfy(o -> assertThat(o.hasContents()).isFalse());
    assertThat(response.getOutputs(3).getShapeList()).containsExactly(3L, 2L);
  }

  @Test
  void badInputs_areInvalidArgumentNamingTheInput() throws Exception {
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, echo());
    assertInvalid(stub, "input 'i8' holds 300", input("i8", "INT8", 1).setContents(ints(300)));
    assertInvalid(
        stub, "input 'u16' holds 65536", input("u16", "UINT16", 1).setContents(uints(65536)));
    assertInvalid(
        stub,
        "input 's' element 0 is not valid UTF-8",
        input("s", "BYTES", 1)
            .setContents(
                InferTensorContents.newBuilder()
                    .addBytesContents(ByteString.copyFrom(new byte[] {(byte) 0xff}))));
    assertInvalid(
        stub, "input 'x' has datatype 'FLOAT'", input("x", "FLOAT", 1).setContents(fp32(1)));
    assertInvalid(
        stub,
        "input 'x' has a shape too large",
        input("x", "FP32", 1L << 62, 4).setContents(fp32(1)));
    assertInvalid(stub, "input 'x' has shape [2, 2, 2]", input("x", "FP32", 2, 2, 2));
    assertInvalid(stub, "input 'x' has shape [-1]", input("x", "FP32", -1));
    assertInvalid(stub, "input 'h' is FP16, which only raw contents", input("h", "FP16", 1));
    assertInvalid(
        stub,
        "input 'y' has 2 rows",
        input("x", "FP32", 1).setContents(fp32(1)),
        input("y", "FP32", 2).setContents(fp32(1, 2)));

    ModelInferRequest.Builder rawAndTyped =
        ModelInferRequest.newBuilder()
            .setModelName("echo")
            .addInputs(input("x", "FP32", 1).setContents(fp32(1)))
            .addRawInputContents(littleEndianInts(1));
    assertStatus(
        () -> stub.modelInfer(rawAndTyped.build()),
        Status.Code.INVALID_ARGUMENT,
        "input 'x' has both typed contents and raw contents");
    ModelInferRequest.Builder truncatedStrings =
        ModelInferRequest.newBuilder()
            .setModelName("echo")
            .addInputs(input("s", "BYTES", 1))
            .addRawInputContents(ByteString.copyFrom(new byte[] {100, 0, 0, 0, 'a'}));
    assertStatus(
        () -> stub.modelInfer(truncatedStrings.build()),
        Status.Code.INVALID_ARGUMENT,
        "input 's' has a raw BYTES element of 100 bytes where only 1 remain");
    ModelInferRequest.Builder missingRaw =
        ModelInferRequest.newBuilder()
            .setModelName("echo")
            .addInputs(input("x", "INT32", 1))
            .addInputs(input("y", "INT32", 1))
            .addRawInputContents(littleEndianInts(1));
    assertStatus(
        () -> stub.modelInfer(missingRaw.build()),
        Status.Code.INVALID_ARGUMENT,
        "2 inputs but 1 raw_input_contents");
  }

  @Test
  void outputsTheProtocolCannotCarry_areFailedPreconditionNamingTheOutput() throws Exception {
    TestModel nulls =
        TestModel.of(
            "nulls",
            (ctx, input) -> {
              try (OutputBuilder out = ctx.output(input.getRowCount())) {
                out.float32("score"); // every row left null
                return out.build();
              }
            });
    TestModel timestamps =
        TestModel.of(
            "timestamps",
            (ctx, input) -> {
              try (OutputBuilder out = ctx.output(input.getRowCount())) {
                TimeStampSecVector t =
                    (TimeStampSecVector)
                        out.column(
                            new Field(
                                "when",
                                FieldType.notNullable(
                                    new ArrowType.Timestamp(
                                        org.apache.arrow.vector.types.TimeUnit.SECOND, null)),
                                null));
                for (int i = 0; i < out.rows(); i++) {
                  t.set(i, i);
                }
                return out.build();
              }
            });
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, nulls, timestamps);
    assertStatus(
        () -> stub.modelInfer(request("nulls", input("x", "FP32", 2).setContents(fp32(1, 2)))),
        Status.Code.FAILED_PRECONDITION,
        "output 'score' has 2 nulls");
    assertStatus(
        () -> stub.modelInfer(request("timestamps", input("x", "FP32", 1).setContents(fp32(1)))),
        Status.Code.FAILED_PRECONDITION,
        "output 'when' has Arrow type Timestamp");
  }

  @Test
  void tensorsThatShareAName_areFailedPreconditionNamingModelAndTensor() throws Exception {
    Map<String, String> tag = Map.of(OpenInference.TENSOR_METADATA_KEY, "t");
    FieldType taggedFloat = new FieldType(false, TestModel.FLOAT4, null, tag);
    FieldType taggedLong = new FieldType(false, new ArrowType.Int(64, true), null, tag);
    // A tagged group split by a change of type: two tensors named 't'.
    Schema splitByType =
        new Schema(List.of(new Field("a", taggedFloat, null), new Field("b", taggedLong, null)));
    TestModel declared = TestModel.of("declared", (ctx, input) -> input).input(splitByType);
    // A plain column named like a tagged group.
    TestModel produced =
        TestModel.of(
            "produced",
            (ctx, input) -> {
              try (OutputBuilder out = ctx.output(input.getRowCount())) {
                Float4Vector a = (Float4Vector) out.column(new Field("a", taggedFloat, null));
                Float4Vector t = out.float32("t");
                for (int i = 0; i < out.rows(); i++) {
                  a.set(i, 1);
                  t.set(i, 2);
                }
                return out.build();
              }
            });
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, declared, produced);
    assertStatus(
        () -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("declared").build()),
        Status.Code.FAILED_PRECONDITION,
        "model 'declared' has two input tensors named 't'");
    assertStatus(
        () ->
            stub.modelInfer(
                request("declared", input("t", "FP32", 1, 1).setContents(fp32(1.5f)))),
        Status.Code.FAILED_PRECONDITION,
        "model 'declared' has two input tensors named 't'");
    assertStatus(
        () -> stub.modelInfer(request("produced", input("x", "FP32", 1).setContents(fp32(1)))),
        Status.Code.FAILED_PRECONDITION,
        "model 'produced' has two output tensors named 't'");
  }

  @Test
  void zeroRows_ofAnUnallocatedStringOutput_areAnEmptyTensor() throws Exception {
    Schema strings =
        new Schema(List.of(new Field("s", FieldType.notNullable(new ArrowType.Utf8()), null)));
    TestModel empty =
        TestModel.of(
            "empty",
            // No setRowCount(0), which would allocate: the column's offset buffer stays empty.
            (ctx, input) -> VectorSchemaRoot.create(strings, ctx.allocator()));
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, empty);
    for (boolean raw : new boolean[] {false, true}) {
      ModelInferRequest.Builder request =
          ModelInferRequest.newBuilder().setModelName("empty").addInputs(input("x", "FP32", 0));
      if (raw) {
        request.addRawInputContents(ByteString.EMPTY);
      }
      ModelInferResponse response = stub.modelInfer(request.build());
      assertThat(response.getOutputs(0).getName()).isEqualTo("s");
      assertThat(response.getOutputs(0).getShapeList()).containsExactly(0L);
      assertThat(response.getOutputs(0).getContents().getBytesContentsCount()).isZero();
      assertThat(response.getRawOutputContentsList())
          .isEqualTo(raw ? List.of(ByteString.EMPTY) : List.of());
    }
  }

  @Test
  void manySmallOutputs_countTheirNamesAndShapesAgainstTheResponseLimit() throws Exception {
    GRPCInferenceServiceBlockingStub stub =
        serve(b -> b.limits(ServerLimits.builder().maxUnaryResponseBytes(8192).build()), echo());
    // 300 FP32 elements are 1,200 bytes, but 300 named tensors with shapes take over 8,192.
    ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName("echo");
    for (int i = 0; i < 300; i++) {
      request.addInputs(input(String.format("tensor_with_a_long_name_%03d", i), "FP32", 1))
          .addRawInputContents(littleEndianInts(i));
    }
    assertStatus(
        () -> stub.modelInfer(request.build()),
        Status.Code.RESOURCE_EXHAUSTED,
        "maxUnaryResponseBytes=8192");
  }

  @Test
  void requestThatIsNotProtobuf_isInvalidArgument() throws Exception {
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, echo());
    MethodDescriptor.Marshaller<byte[]> bytes =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            return new byte[0];
          }
        };
    MethodDescriptor<byte[], byte[]> modelInfer =
        GRPCInferenceServiceGrpc.getModelInferMethod().toBuilder(bytes, bytes).build();
    assertStatus(
        () ->
            ClientCalls.blockingUnaryCall(
                stub.getChannel(),
                modelInfer,
                CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS),
                new byte[] {(byte) 0xff, (byte) 0xff, 0x01}),
        Status.Code.INVALID_ARGUMENT,
        "could not be read");
  }

  @Test
  void limits_areResourceExhaustedNamingTheLimit() throws Exception {
    GRPCInferenceServiceBlockingStub stub =
        serve(
            b ->
                b.limits(
                    ServerLimits.builder()
                        .maxBatchRows(1000)
                        .maxUnaryResponseBytes(8192)
                        .maxCallMemoryBytes(64 * 1024)
                        .build()),
            echo());
    float[] rows = new float[1001];
    assertStatus(
        () -> stub.modelInfer(request("echo", input("x", "FP32", 1001).setContents(fp32(rows)))),
        Status.Code.RESOURCE_EXHAUSTED,
        "maxBatchRows=1000");
    float[] wide = new float[2000]; // 8,000 bytes of FP32 back
    assertStatus(
        () -> stub.modelInfer(request("echo", input("x", "FP32", 1000, 2).setContents(fp32(wide)))),
        Status.Code.RESOURCE_EXHAUSTED,
        "maxUnaryResponseBytes=8192");
    ByteString big = ByteString.copyFrom(new byte[100 * 1024]);
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName("echo")
                    .addInputs(input("x", "UINT8", 100, 1024))
                    .addRawInputContents(big)
                    .build()),
        Status.Code.RESOURCE_EXHAUSTED,
        "maxCallMemoryBytes=65536");
    assertStatus(
        () ->
            stub.modelInfer(
                ModelInferRequest.newBuilder()
                    .setModelName("echo")
                    .addInputs(input("x", "UINT8", 0, 1 << 30))
                    .build()),
        Status.Code.RESOURCE_EXHAUSTED,
        "maxSchemaFields");
    // What the calls allocated was released (the extension checks the allocator after the test).
    assertThat(
            stub.modelInfer(request("echo", input("x", "FP32", 1).setContents(fp32(1))))
                .getOutputsCount())
        .isEqualTo(1);
  }

  @Test
  void authenticationAndAuthorization_applyAsToPredict() throws Exception {
    GRPCInferenceServiceBlockingStub stub =
        serve(
            b ->
                b.authenticator(
                        Authenticator.bearerTokens(Map.of("t-app", "app", "t-other", "other")))
                    .authorizer((principal, model) -> principal.equals("app")),
            echo());
    ModelInferRequest request = request("echo", input("x", "FP32", 1).setContents(fp32(1)));
    assertStatus(() -> stub.modelInfer(request), Status.Code.UNAUTHENTICATED);
    GRPCInferenceServiceBlockingStub other = withToken(stub, "t-other");
    assertStatus(() -> other.modelInfer(request), Status.Code.PERMISSION_DENIED, "'other'");
    assertStatus(
        () -> other.modelMetadata(ModelMetadataRequest.newBuilder().setName("echo").build()),
        Status.Code.PERMISSION_DENIED);
    assertStatus(
        () -> other.modelReady(ModelReadyRequest.newBuilder().setName("echo").build()),
        Status.Code.PERMISSION_DENIED);
    ModelInferResponse answer = withToken(stub, "t-app").modelInfer(request);
    assertThat(answer.getOutputs(0).getContents().getFp32ContentsList()).containsExactly(1f);
  }

  @Test
  void parameters_reachTheModelAsStrings() throws Exception {
    @SuppressWarnings("unchecked")
    Map<String, String>[] seen = new Map[1];
    TestModel model =
        TestModel.of(
            "params",
            (ctx, input) -> {
              seen[0] = ctx.parameters();
              return input;
            });
    GRPCInferenceServiceBlockingStub stub = serve(b -> {}, model);
    stub.modelInfer(
        ModelInferRequest.newBuilder()
            .setModelName("params")
            .putParameters("t", InferParameter.newBuilder().setStringParam("s").build())
            .putParameters("n", InferParameter.newBuilder().setInt64Param(-3).build())
            .putParameters("u", InferParameter.newBuilder().setUint64Param(-1L).build())
            .putParameters("b", InferParameter.newBuilder().setBoolParam(true).build())
            .addInputs(input("x", "FP32", 1).setContents(fp32(1)))
            .build());
    assertThat(seen[0])
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("t", "s", "n", "-3", "u", "18446744073709551615", "b", "true"));
  }

  @Test
  void concurrentCalls_areMergedByTheModelsBatching() throws Exception {
    Schema schema =
        new Schema(
            List.of(
                new Field("x_0", FieldType.notNullable(TestModel.FLOAT4), null),
                new Field("x_1", FieldType.notNullable(TestModel.FLOAT4), null)));
    TestModel sum =
        TestModel.of(
                "sum",
                (ctx, input) -> {
                  Float4Vector a = (Float4Vector) input.getVector(0);
                  Float4Vector b = (Float4Vector) input.getVector(1);
                  try (OutputBuilder out = ctx.output(input.getRowCount())) {
                    Float4Vector s = out.float32("s");
                    for (int i = 0; i < out.rows(); i++) {
                      s.set(i, a.get(i) + b.get(i));
                    }
                    return out.build();
                  }
                })
            .input(schema);
    GRPCInferenceServiceBlockingStub batched =
        serve(
            b ->
                b.addModel(
                    sum,
                    Batching.builder().maxRows(4).maxQueueDelay(Duration.ofSeconds(5)).build()));
    // One thread per caller: the common pool may have a single thread on a small machine.
    ExecutorService callers = Executors.newFixedThreadPool(4);
    cleanup.add(callers::shutdownNow);
    List<CompletableFuture<Float>> results = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      float value = i;
      results.add(
          CompletableFuture.supplyAsync(
              () ->
                  batched
                      .modelInfer(
                          request("sum", input("x", "FP32", 1, 2).setContents(fp32(value, 10))))
                      .getOutputs(0)
                      .getContents()
                      .getFp32Contents(0),
              callers));
    }
    for (int i = 0; i < 4; i++) {
      assertThat(results.get(i).get(30, TimeUnit.SECONDS)).isEqualTo(i + 10f);
    }
    // One model call for the four requests: they waited for each other up to maxRows.
    assertThat(sum.batches.get()).isEqualTo(1);
  }

  private static GRPCInferenceServiceBlockingStub withToken(
      GRPCInferenceServiceBlockingStub stub, String token) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static void assertInvalid(
      GRPCInferenceServiceBlockingStub stub, String fragment, InferInputTensor.Builder... inputs) {
    ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName("echo");
    for (InferInputTensor.Builder input : inputs) {
      request.addInputs(input);
    }
    assertStatus(() -> stub.modelInfer(request.build()), Status.Code.INVALID_ARGUMENT, fragment);
  }

  private static void assertStatus(Runnable call, Status.Code code, String... fragments) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
              for (String fragment : fragments) {
                assertThat(e.getStatus().getDescription()).contains(fragment);
              }
            });
  }

  private static ModelInferRequest request(String model, InferInputTensor.Builder input) {
    return ModelInferRequest.newBuilder().setModelName(model).addInputs(input).build();
  }

  private static InferInputTensor.Builder input(String name, String datatype, long... shape) {
    InferInputTensor.Builder input =
        InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
    for (long dim : shape) {
      input.addShape(dim);
    }
    return input;
  }

  private static InferTensorContents ints(int... values) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (int value : values) {
      contents.addIntContents(value);
    }
    return contents.build();
  }

  private static InferTensorContents uints(int... values) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (int value : values) {
      contents.addUintContents(value);
    }
    return contents.build();
  }

  private static InferTensorContents fp32(float... values) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (float value : values) {
      contents.addFp32Contents(value);
    }
    return contents.build();
  }

  private static ByteString littleEndianInts(int... values) {
    ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int value : values) {
      buffer.putInt(value);
    }
    return ByteString.copyFrom(buffer.array());
  }
}
