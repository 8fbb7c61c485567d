/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import com.google.protobuf.ByteString;
import dev.predictgrpc.examples.bench.BenchModels.ScoreModel;
import dev.predictgrpc.server.PredictServer;
import inference.GRPCInferenceServiceGrpc;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferRequest.InferInputTensor;
import inference.OpenInferenceGrpc.ModelInferResponse;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * The Open Inference Protocol's unary {@code ModelInfer} on the same {@link PredictServer} and the
 * same score model, called as Triton's clients call it: generated stubs, raw little-endian contents
 * both ways. The model's 16 float32 columns are 16 tensors of shape {@code [1]}; the score comes
 * back as one raw FP32 tensor. Unary only: the protocol has no stream.
 */
final class OipBench {
  private OipBench() {}

  static RunningServer serve(BufferAllocator allocator) throws IOException {
    PredictServer server =
        PredictServer.builder(allocator)
            .bindAddress("127.0.0.1")
            .addModel(new ScoreModel())
            .openInferenceProtocol(true)
            .shutdownGracePeriod(Duration.ofSeconds(2))
            .build()
            .start();
    return RunningServer.of(server.port(), server);
  }

  static final class Client implements BenchClient {
    private final BenchTable table;
    private final ManagedChannel channel;
    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub blocking;
    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceStub async;
    private final ModelInferRequest request;

    Client(int port, BufferAllocator allocator, BenchTable table) {
      this.table = table;
      this.channel =
          Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
              .build();
      this.blocking = GRPCInferenceServiceGrpc.newBlockingStub(channel);
      this.async = GRPCInferenceServiceGrpc.newStub(channel);
      ModelInferRequest.Builder builder = ModelInferRequest.newBuilder().setModelName("score");
      try (VectorSchemaRoot row = table.firstRow(allocator)) {
        for (int c = 0; c < BenchTable.COLUMNS; c++) {
          Float4Vector column = (Float4Vector) row.getVector(c);
          builder.addInputs(
              InferInputTensor.newBuilder()
                  .setName(column.getName())
                  .setDatatype("FP32")
                  .addShape(1));
          ByteBuffer value = ByteBuffer.allocate(Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
          value.putFloat(0, column.get(0));
          builder.addRawInputContents(ByteString.copyFrom(value.array()));
        }
      }
      this.request = builder.build();
    }

    @Override
    public long stream(String model, long rows) {
      throw new UnsupportedOperationException("the Open Inference Protocol has no stream");
    }

    @Override
    public void unary() {
      check(blocking.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(request));
    }

    @Override
    public void unaryAsync(Consumer<@Nullable Throwable> done) {
      async
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .modelInfer(
              request,
              new StreamObserver<>() {
                @Override
                public void onNext(ModelInferResponse response) {
                  try {
                    check(response);
                  } catch (RuntimeException e) {
                    done.accept(e);
                    return;
                  }
                  done.accept(null);
                }

                @Override
                public void onError(Throwable error) {
                  done.accept(error);
                }

                @Override
                public void onCompleted() {}
              });
    }

    private void check(ModelInferResponse response) {
      ByteBuffer score =
          response.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      table.checkScore(0, score.getFloat(0));
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
