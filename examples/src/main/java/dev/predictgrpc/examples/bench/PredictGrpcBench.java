/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.examples.bench.BenchModels.EchoModel;
import dev.predictgrpc.examples.bench.BenchModels.ScoreModel;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/** This library, used the way its README shows: PredictServer and PredictClient. */
final class PredictGrpcBench {
  /** System property: the chunk size both sides send (bench --chunk-bytes); unset, the default. */
  static final String CHUNK_BYTES = "predictgrpc.bench.chunkBytes";

  /** System property: the initial flow-control window (bench --flow-window); unset, gRPC's. */
  static final String FLOW_WINDOW = "predictgrpc.bench.flowWindow";

  private static final ModelRef SCORE = ModelRef.of("score");

  private PredictGrpcBench() {}

  static RunningServer serve(BufferAllocator allocator) throws IOException {
    PredictServer.Builder builder =
        PredictServer.builder(allocator)
            .bindAddress("127.0.0.1")
            .addModel(new EchoModel())
            .addModel(new ScoreModel())
            .shutdownGracePeriod(Duration.ofSeconds(2));
    Integer chunkBytes = Integer.getInteger(CHUNK_BYTES);
    if (chunkBytes != null) {
      builder.limits(ServerLimits.builder().maxChunkBytes(chunkBytes).build());
    }
    Integer flowWindow = Integer.getInteger(FLOW_WINDOW);
    if (flowWindow != null) {
      builder.flowControlWindow(flowWindow);
    }
    PredictServer server = builder.build().start();
    return RunningServer.of(server.port(), server);
  }

  static final class Client implements BenchClient {
    private final BenchTable table;
    private final PredictClient client;
    /** Unary inputs by row count, one per {@link Bench#UNARY_ROWS}. */
    private final Map<Integer, VectorSchemaRoot> unaryInputs = new HashMap<>();

    Client(int port, BufferAllocator allocator, BenchTable table) {
      this.table = table;
      PredictClient.Builder builder = PredictClient.builder("127.0.0.1:" + port, allocator);
      Integer chunkBytes = Integer.getInteger(CHUNK_BYTES);
      if (chunkBytes != null) {
        builder.maxChunkBytes(chunkBytes);
      }
      Integer flowWindow = Integer.getInteger(FLOW_WINDOW);
      if (flowWindow != null) {
        builder.flowControlWindow(flowWindow);
      }
      this.client = builder.build();
      for (int rows : Bench.UNARY_ROWS) {
        unaryInputs.put(rows, table.firstRows(allocator, rows));
      }
    }

    @Override
    public long stream(String model, long rows) {
      long received = 0;
      try (PredictionStream results =
          client.predictStream(ModelRef.of(model), table.batches(rows))) {
        while (results.next()) {
          VectorSchemaRoot batch = results.root();
          table.check(model, batch);
          received += batch.getRowCount();
        }
      } finally {
        table.restore();
      }
      return received;
    }

    @Override
    public void unary(int rows) {
      try (VectorSchemaRoot output = client.predict(SCORE, unaryInputs.get(rows))) {
        table.checkScores((Float4Vector) output.getVector(0), rows);
      }
    }

    @Override
    public void unaryAsync(int rows, Consumer<@Nullable Throwable> done) {
      client
          .predictAsync(SCORE, unaryInputs.get(rows))
          .whenComplete(
              (output, error) -> {
                Throwable failure = error;
                if (output != null) {
                  try (output) {
                    table.checkScores((Float4Vector) output.getVector(0), rows);
                  } catch (RuntimeException e) {
                    failure = e;
                  }
                }
                done.accept(failure);
              });
    }

    @Override
    public void close() {
      unaryInputs.values().forEach(VectorSchemaRoot::close);
      client.close();
    }
  }
}
