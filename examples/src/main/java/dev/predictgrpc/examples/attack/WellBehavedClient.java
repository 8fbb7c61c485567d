/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * A client minding its own business while an attack runs: on its own connection, one small {@code
 * Predict} call to the {@code score} model after another, each checked, timed and counted. Its
 * figures say whether the attack denied service to others.
 *
 * <p>Thread-safe: {@link #stop()} may be called from any thread, once.
 */
public final class WellBehavedClient {
  /** The most failure messages kept for the report. */
  private static final int MAX_FAILURE_SAMPLES = 5;

  /** What the client saw: calls, failures and latency. */
  public record Result(int calls, int failures, long[] latencyMicros, List<String> failureSamples) {
    /** The latency at {@code quantile} (0 to 1) in microseconds; 0 without calls. */
    public long percentileMicros(double quantile) {
      if (latencyMicros.length == 0) {
        return 0;
      }
      long[] sorted = latencyMicros.clone();
      Arrays.sort(sorted);
      int index = (int) Math.ceil(quantile * sorted.length) - 1;
      return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    /** "812 calls, 0 failures, p50 1.20 ms, p99 5.31 ms, max 9.10 ms". */
    public String summary() {
      return String.format(
          Locale.ROOT,
          "%d calls, %d failures, p50 %.2f ms, p99 %.2f ms, max %.2f ms%s",
          calls,
          failures,
          percentileMicros(0.5) / 1000.0,
          percentileMicros(0.99) / 1000.0,
          percentileMicros(1.0) / 1000.0,
          failureSamples.isEmpty() ? "" : "; first failures: " + failureSamples);
    }
  }

  private final PredictClient client;
  private final BufferAllocator allocator;
  private final Duration pause;
  private final Thread thread;
  private final List<Long> latencies = new ArrayList<>();
  private final List<String> failureSamples = new ArrayList<>();
  private int failures;
  private volatile boolean stopping;

  private WellBehavedClient(
      String target, BufferAllocator parent, Duration deadline, Duration pause) {
    this.allocator = parent.newChildAllocator("well-behaved-client", 0, Long.MAX_VALUE);
    this.client = PredictClient.builder(target, allocator).deadline(deadline).build();
    this.pause = pause;
    this.thread = new Thread(this::loop, "well-behaved-client");
    thread.setDaemon(true);
  }

  /**
   * Connects to {@code target} and starts calling; each call has {@code deadline}, and the client
   * rests {@code pause} between calls. The client allocates from a child of {@code allocator},
   * released by {@link #stop()}; it does not take ownership of {@code allocator}.
   */
  public static WellBehavedClient start(
      String target, BufferAllocator allocator, Duration deadline, Duration pause) {
    WellBehavedClient client = new WellBehavedClient(target, allocator, deadline, pause);
    client.thread.start();
    return client;
  }

  /** Stops after the call in progress, closes the client and returns what it saw. */
  public Result stop() throws InterruptedException {
    stopping = true;
    thread.join();
    client.close();
    allocator.close();
    synchronized (this) {
      long[] micros = latencies.stream().mapToLong(Long::longValue).toArray();
      return new Result(micros.length, failures, micros, List.copyOf(failureSamples));
    }
  }

  private void loop() {
    float[] values = {1.5f, -2.0f};
    while (!stopping) {
      long start = System.nanoTime();
      String failure = null;
      try (VectorSchemaRoot input = Batches.builder(allocator).float32("x", values).build();
          VectorSchemaRoot output = client.predict("score", input)) {
        Float4Vector y = (Float4Vector) output.getVector(0);
        if (output.getRowCount() != 2 || y.get(0) != 3.0f || y.get(1) != -4.0f) {
          failure = "wrong answer: " + output.contentToTSVString();
        }
      } catch (RuntimeException e) {
        failure = e.toString();
      }
      long micros = (System.nanoTime() - start) / 1000;
      synchronized (this) {
        latencies.add(micros);
        if (failure != null) {
          failures++;
          if (failureSamples.size() < MAX_FAILURE_SAMPLES) {
            failureSamples.add(failure);
          }
        }
      }
      try {
        Thread.sleep(pause.toMillis());
      } catch (InterruptedException e) {
        return;
      }
    }
  }
}
