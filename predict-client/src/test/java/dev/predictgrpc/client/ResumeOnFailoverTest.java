/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A long scoring job survives the replica serving it dying halfway: the stream resumes on another
 * replica, re-sending only unanswered batches, and the output equals a run with no failure.
 */
class ResumeOnFailoverTest {
  private static final int BATCHES = 40;
  private static final int ROWS = 32_768;
  private static final int COLUMNS = 4;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Row sums, slowed a little so the stream is surely in flight when its replica dies. */
  static final class CountingSumModel extends TestModels.RowSumModel {
    final AtomicLong batches = new AtomicLong();

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      batches.incrementAndGet();
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return super.predict(ctx, input);
    }
  }

  /** Runs the job; kills the replica serving it after {@code killAfter} results (-1: never). */
  private List<float[]> score(int killAfter, long[] resentBatches, int[] resumes) throws Exception {
    List<PredictServer> servers = new ArrayList<>();
    List<CountingSumModel> models = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    List<float[]> output = new ArrayList<>();
    try {
      for (int r = 0; r < 3; r++) {
        CountingSumModel model = new CountingSumModel();
        PredictServer server =
            PredictServer.builder(arrow.allocator())
                .bindAddress("127.0.0.1")
                .addModel(model)
                .shutdownGracePeriod(Duration.ZERO) // close() = the replica dies mid-call
                .build()
                .start();
        servers.add(server);
        models.add(model);
        addresses.add("127.0.0.1:" + server.port());
      }
      try (PredictClient client = PredictClient.builder(addresses, arrow.allocator()).build();
          GeneratedBatches table = new GeneratedBatches(arrow.allocator(), COLUMNS, ROWS, BATCHES);
          PredictionStream results = client.predictStream(ModelRef.of("row-sum"), table)) {
        while (results.next()) {
          Float4Vector score = (Float4Vector) results.root().getVector("score");
          float[] values = new float[score.getValueCount()];
          for (int i = 0; i < values.length; i++) {
            values[i] = score.get(i);
          }
          output.add(values);
          if (output.size() == killAfter) {
            for (int r = 0; r < 3; r++) {
              if (models.get(r).batches.get() > 0) {
                servers.get(r).close();
              }
            }
          }
        }
        resumes[0] = results.resumes();
      }
      long scored = 0;
      for (CountingSumModel model : models) {
        scored += model.batches.get();
      }
      resentBatches[0] = scored - BATCHES;
      return output;
    } finally {
      for (PredictServer server : servers) {
        server.close();
      }
    }
  }

  @Test
  void replicaDiesHalfway_jobCompletes_outputEqualsAFailureFreeRun() throws Exception {
    long[] resent = new long[1];
    int[] resumes = new int[1];
    List<float[]> expected = score(-1, resent, resumes);
    assertThat(resumes[0]).isZero();
    assertThat(resent[0]).isZero();

    List<float[]> survived = score(BATCHES / 2, resent, resumes);
    System.out.printf(
        "failover: %d batches of %d rows; resumed %d time(s); %d batch(es) re-sent and re-scored%n",
        BATCHES, ROWS, resumes[0], resent[0]);
    assertThat(resumes[0]).isEqualTo(1);
    assertThat(survived).hasSize(BATCHES);
    for (int b = 0; b < BATCHES; b++) {
      assertThat(survived.get(b)).as("batch %d", b).containsExactly(expected.get(b));
      float[] want = new float[ROWS];
      for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < COLUMNS; c++) {
          want[r] += GeneratedBatches.value(b, r, c);
        }
      }
      assertThat(survived.get(b)).as("batch %d vs row sums", b).containsExactly(want);
    }
    // Only in-flight batches are re-sent, never the whole table.
    assertThat(resent[0]).isBetween(0L, (long) BATCHES / 2);
  }
}
