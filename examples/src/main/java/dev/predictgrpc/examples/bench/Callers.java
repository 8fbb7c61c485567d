/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictOptions;
import dev.predictgrpc.client.Prediction;
import dev.predictgrpc.examples.demo.IrisSchema;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * A closed loop of unary calls: {@code threads} threads each send one-row iris {@code Predict}
 * calls back to back, naming no version, until a deadline. It records the latency of every call,
 * every failure, and when each model version first answered. Used by {@link SwapBench}.
 */
final class Callers {
  /** The figures of one run. Latencies in nanoseconds, sorted. */
  record Result(
      long[] sortedLatencies,
      long errors,
      List<String> firstErrors,
      double seconds,
      Map<String, Long> firstAnswerNanos,
      long[] sortedSwitchLatencies) {
    long calls() {
      return sortedLatencies.length + errors;
    }

    long percentile(double p) {
      if (sortedLatencies.length == 0) {
        return 0;
      }
      int index = (int) Math.ceil(p / 100 * sortedLatencies.length) - 1;
      return sortedLatencies[Math.max(0, Math.min(sortedLatencies.length - 1, index))];
    }

    long max() {
      return sortedLatencies.length == 0 ? 0 : sortedLatencies[sortedLatencies.length - 1];
    }

    /** The slowest call a thread made right after the version answering it changed. */
    long maxSwitch() {
      return sortedSwitchLatencies.length == 0
          ? 0
          : sortedSwitchLatencies[sortedSwitchLatencies.length - 1];
    }
  }

  private static final int KEPT_ERRORS = 5;

  private Callers() {}

  /**
   * Calls {@code model} from {@code threads} threads until {@code endNanos} ({@link
   * System#nanoTime()}) and returns what happened. Each thread builds its input from {@code
   * allocator} and closes it.
   */
  static Result run(
      PredictClient client, BufferAllocator allocator, String model, int threads, long endNanos)
      throws InterruptedException {
    long start = System.nanoTime();
    AtomicLong errors = new AtomicLong();
    Queue<String> firstErrors = new ConcurrentLinkedQueue<>();
    Map<String, Long> firstAnswer = new ConcurrentHashMap<>();
    long[][] latencies = new long[threads][];
    int[] counts = new int[threads];
    Queue<Long> switchLatencies = new ConcurrentLinkedQueue<>();
    List<Thread> running = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int index = t;
      Thread thread =
          new Thread(
              () -> {
                long[] mine = new long[1 << 14];
                int count = 0;
                String lastVersion = null;
                try (VectorSchemaRoot input = oneFlower(allocator, index)) {
                  while (System.nanoTime() < endNanos) {
                    long begin = System.nanoTime();
                    try (Prediction prediction =
                        client.predict(model, input, PredictOptions.defaults())) {
                      long end = System.nanoTime();
                      String version = prediction.modelVersion();
                      firstAnswer.putIfAbsent(version, end);
                      if (lastVersion != null && !lastVersion.equals(version)) {
                        switchLatencies.add(end - begin);
                      }
                      lastVersion = version;
                      if (count == mine.length) {
                        mine = Arrays.copyOf(mine, count * 2);
                      }
                      mine[count++] = end - begin;
                    } catch (RuntimeException e) {
                      if (errors.incrementAndGet() <= KEPT_ERRORS) {
                        firstErrors.add(e.toString());
                      }
                    }
                  }
                }
                latencies[index] = mine;
                counts[index] = count; // Read after join(), which makes it visible.
              },
              "swap-bench-caller-" + t);
      thread.setDaemon(true);
      running.add(thread);
      thread.start();
    }
    for (Thread thread : running) {
      thread.join();
    }
    int total = Arrays.stream(counts).sum();
    long[] all = new long[total];
    int offset = 0;
    for (int t = 0; t < threads; t++) {
      System.arraycopy(latencies[t], 0, all, offset, counts[t]);
      offset += counts[t];
    }
    Arrays.sort(all);
    return new Result(
        all,
        errors.get(),
        List.copyOf(firstErrors),
        (System.nanoTime() - start) / 1e9,
        Map.copyOf(firstAnswer),
        switchLatencies.stream().mapToLong(Long::longValue).sorted().toArray());
  }

  /** One plausible flower, a little different per thread. */
  private static VectorSchemaRoot oneFlower(BufferAllocator allocator, int index) {
    VectorSchemaRoot input = VectorSchemaRoot.create(IrisSchema.FEATURES, allocator);
    input.allocateNew();
    for (int c = 0; c < 4; c++) {
      ((Float4Vector) input.getVector(c)).set(0, 1 + c + (index % 10) * 0.1f);
    }
    input.setRowCount(1);
    return input;
  }
}
