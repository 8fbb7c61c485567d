/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.batching;

import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.examples.demo.IrisSchema;
import dev.predictgrpc.server.ModelStats;
import dev.predictgrpc.server.PredictServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * A closed-loop load: {@code callers} threads each send single-row {@code Predict} calls back to
 * back for a warm-up and then a measured window. Latencies are those of calls that both started
 * and ended inside the window; the mean batch size is the server's, over the same window.
 */
final class LoadRun {
  /** The figures of one run. Latencies in nanoseconds. */
  record Result(
      int callers, long calls, double seconds, long p50Nanos, long p99Nanos, double meanBatch,
      long errors) {
    double callsPerSecond() {
      return calls / seconds;
    }
  }

  private LoadRun() {}

  static Result run(
      PredictServer server,
      PredictClient client,
      BufferAllocator allocator,
      String model,
      int callers,
      Duration warmup,
      Duration window)
      throws InterruptedException {
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    long measureTo = measureFrom + window.toNanos();
    AtomicLong errors = new AtomicLong();
    List<long[]> latencies = new ArrayList<>();
    int[] counts = new int[callers];
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      long[] mine = new long[1 << 12];
      latencies.add(mine);
      int index = c;
      Thread thread =
          new Thread(
              () -> callLoop(client, allocator, model, index, measureFrom, measureTo, latencies,
                  counts, errors),
              "bench-caller-" + c);
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }
    sleepUntil(measureFrom);
    ModelStats before = statsOf(server, model);
    sleepUntil(measureTo);
    ModelStats after = statsOf(server, model);
    for (Thread thread : threads) {
      thread.join();
    }
    int total = 0;
    for (int count : counts) {
      total += count;
    }
    long[] all = new long[total];
    int offset = 0;
    for (int c = 0; c < callers; c++) {
      System.arraycopy(latencies.get(c), 0, all, offset, counts[c]);
      offset += counts[c];
    }
    Arrays.sort(all);
    long modelCalls = after.batchSize().count() - before.batchSize().count();
    long rows = after.batchSize().sum() - before.batchSize().sum();
    return new Result(
        callers,
        total,
        window.toNanos() / 1e9,
        percentile(all, 50),
        percentile(all, 99),
        modelCalls == 0 ? 0 : (double) rows / modelCalls,
        errors.get());
  }

  private static void callLoop(
      PredictClient client,
      BufferAllocator allocator,
      String model,
      int index,
      long measureFrom,
      long measureTo,
      List<long[]> latencies,
      int[] counts,
      AtomicLong errors) {
    try (VectorSchemaRoot input = VectorSchemaRoot.create(IrisSchema.FEATURES, allocator)) {
      input.allocateNew();
      for (int c = 0; c < 4; c++) {
        // A plausible flower, different per caller.
        ((Float4Vector) input.getVector(c)).set(0, 1 + c + (index % 10) * 0.1f);
      }
      input.setRowCount(1);
      long[] mine = latencies.get(index);
      int count = 0;
      while (true) {
        long begin = System.nanoTime();
        if (begin >= measureTo) {
          break;
        }
        try (VectorSchemaRoot output = client.predict(model, input)) {
          if (output.getRowCount() != 1) {
            errors.incrementAndGet();
          }
        } catch (PredictException e) {
          errors.incrementAndGet();
        }
        long end = System.nanoTime();
        if (begin >= measureFrom && end <= measureTo) {
          if (count == mine.length) {
            mine = Arrays.copyOf(mine, count * 2);
            latencies.set(index, mine);
          }
          mine[count++] = end - begin;
        }
      }
      counts[index] = count; // Read after join(), which makes it visible.
    }
  }

  private static ModelStats statsOf(PredictServer server, String model) {
    return server.service().statistics(model, "");
  }

  private static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long remaining;
    while ((remaining = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, remaining / 1_000_000), 0);
    }
  }
}
