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
import java.util.HashMap;
import java.util.Map;
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
    /** Requests by row count, one per {@link Bench#UNARY_ROWS}. */
    private final Map<Integer, ModelInferRequest> requests = new HashMap<>();

    Client(int port, BufferAllocator allocator, BenchTable table) {
      this.table = table;
      this.channel =
          Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
              .build();
      this.blocking = GRPCInferenceServiceGrpc.newBlockingStub(channel);
      this.async = GRPCInferenceServiceGrpc.newStub(channel);
      for (int rows : Bench.UNARY_ROWS) {
        requests.put(rows, request(table, allocator, rows));
      }
    }

    /** The first {@code rows} rows as 16 raw FP32 tensors of shape [rows], one per column. */
    private static ModelInferRequest request(BenchTable table, BufferAllocator allocator, int rows) {
      ModelInferRequest.Builder builder = ModelInferRequest.newBuilder().setModelName("score");
      try (VectorSchemaRoot batch = table.firstRows(allocator, rows)) {
        for (int c = 0; c < BenchTable.COLUMNS; c++) {
          Float4Vector column = (Float4Vector) batch.getVector(c);
          builder.addInputs(
              InferInputTensor.newBuilder()
                  .setName(column.getName())
                  .setDatatype("FP32")
                  .addShape(rows));
          ByteBuffer values =
              ByteBuffer.allocate(rows * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
          for (int r = 0; r < rows; r++) {
            values.putFloat(r * Float.BYTES, column.get(r));
          }
          builder.addRawInputContents(ByteString.copyFrom(values.array()));
        }
      }
      return builder.build();
    }

    @Override
    public long stream(String model, long rows) {
      throw new UnsupportedOperationException("the Open Inference Protocol has no stream");
    }

    @Override
    public void unary(int rows) {
      check(blocking.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(requests.get(rows)), rows);
    }

    @Override
    public void unaryAsync(int rows, Consumer<@Nullable Throwable> done) {
      async
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .modelInfer(
              requests.get(rows),
              new StreamObserver<>() {
                @Override
                public void onNext(ModelInferResponse response) {
                  try {
                    check(response, rows);
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

    private void check(ModelInferResponse response, int rows) {
      ByteBuffer scores =
          response.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (scores.remaining() != rows * Float.BYTES) {
        throw new IllegalStateException(
            "oip: " + scores.remaining() + " bytes of scores came back for " + rows + " rows");
      }
      table.checkScore(0, scores.getFloat(0));
      table.checkScore(rows - 1, scores.getFloat((rows - 1) * Float.BYTES));
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
