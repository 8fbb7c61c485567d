/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many concurrent unary calls and streams against one server over loopback TCP for a bounded time,
 * checking every value that comes back, then checking that the server holds no Arrow memory and
 * that the JVM's thread count came back to where it started.
 *
 * <p>20 seconds by default; {@code -Dsoak.seconds=N} runs longer. The figures are printed to
 * standard output (the surefire report's {@code -output.txt}).
 */
class SoakTest {
  private static final int THREADS = 8; // half unary, half streaming
  private static final Duration WARM_UP = Duration.ofSeconds(2);

  /** Threads the JVM may have gained by the end without that being a leak. */
  private static final int THREAD_MARGIN = 10;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();

  @Test
  void concurrentUnaryAndStreamCalls_noErrors_noMemoryLeft_threadsBackToStart() throws Exception {
    Duration duration = Duration.ofSeconds(Long.getLong("soak.seconds", 20));
    try (PredictServer server =
            PredictServer.builder(arrow.allocator())
                .bindAddress("127.0.0.1")
                .port(0)
                .shutdownGracePeriod(Duration.ofSeconds(5))
                .addModel(new TestModels.RowSumModel())
                .build()
                .start();
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), arrow.allocator()).build()) {
      // The same load, briefly, so that the connection, gRPC's thread pools and the JIT are in
      // place before the starting figures are taken.
      Stats warmUp = run(client, WARM_UP);
      assertThat(warmUp.errors.get()).as("errors during warm-up: %s", warmUp.failures).isZero();
      long startMemory = awaitServerMemoryZero(server);
      int startThreads = threadBean.getThreadCount();
      System.out.printf(
          "soak start: server Arrow memory %d bytes, live threads %d (after a %d s warm-up of %d"
              + " calls and %d streams)%n",
          startMemory, startThreads, WARM_UP.toSeconds(), warmUp.calls.get(), warmUp.streams.get());

      Stats soak = run(client, duration);

      long endMemory = awaitServerMemoryZero(server);
      int endThreads = awaitThreadsSettle(startThreads + THREAD_MARGIN);
      double seconds = soak.nanos / 1e9;
      System.out.printf(
          "soak: %d threads for %.1f s: %d unary calls, %d streams (%d batches), %d rows"
              + " (%.0f calls/s, %.0f streams/s, %.0f rows/s), %d errors%n",
          THREADS,
          seconds,
          soak.calls.get(),
          soak.streams.get(),
          soak.batches.get(),
          soak.rows.get(),
          soak.calls.get() / seconds,
          soak.streams.get() / seconds,
          soak.rows.get() / seconds,
          soak.errors.get());
      System.out.printf(
          "soak end: server Arrow memory %d bytes (start %d, peak %d), live threads %d (start %d,"
              + " margin %d)%n",
          endMemory,
          startMemory,
          server.service().peakAllocatedBytes(),
          endThreads,
          startThreads,
          THREAD_MARGIN);
      soak.failures.forEach(f -> System.out.println("soak failure: " + f));

      assertThat(soak.errors.get()).as("errors: %s", soak.failures).isZero();
      assertThat(soak.calls.get()).as("unary calls").isPositive();
      assertThat(soak.streams.get()).as("streams").isPositive();
      assertThat(endMemory).as("server Arrow memory at the end").isZero();
      assertThat(endThreads)
          .as("live threads at the end (start %d)", startThreads)
          .isLessThanOrEqualTo(startThreads + THREAD_MARGIN);
    }
  }

  /** Runs the mixed load from {@link #THREADS} threads for {@code duration}. */
  private Stats run(PredictClient client, Duration duration) throws InterruptedException {
    Stats stats = new Stats();
    long start = System.nanoTime();
    long end = start + duration.toNanos();
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      boolean streaming = i % 2 == 1;
      SplittableRandom random = new SplittableRandom(0x50a4L * 31 + i);
      Thread worker =
          new Thread(
              () -> {
                while (System.nanoTime() < end) {
                  try {
                    if (streaming) {
                      oneStream(client, random, stats);
                    } else {
                      oneUnaryCall(client, random, stats);
                    }
                  } catch (Throwable t) {
                    stats.fail(t);
                    sleepQuietly(10); // keep a persistent failure from spinning
                  }
                }
              },
              (streaming ? "soak-stream-" : "soak-unary-") + i);
      workers.add(worker);
      worker.start();
    }
    for (Thread worker : workers) {
      worker.join(duration.toMillis() + TimeUnit.SECONDS.toMillis(60));
      if (worker.isAlive()) {
        stats.fail(new AssertionError(worker.getName() + " did not finish"));
      }
    }
    stats.nanos = System.nanoTime() - start;
    return stats;
  }

  /** One Predict of 1 to 100 rows of (a, b); every score must be a + b. */
  private void oneUnaryCall(PredictClient client, SplittableRandom random, Stats stats) {
    int rows = 1 + random.nextInt(100);
    float[] a = new float[rows];
    float[] b = new float[rows];
    for (int i = 0; i < rows; i++) {
      // Integers and halves under 2^17: every sum is exact in float32.
      a[i] = random.nextInt(1 << 16);
      b[i] = random.nextInt(1 << 16) * 0.5f;
    }
    try (VectorSchemaRoot input =
            Batches.builder(arrow.allocator()).float32("a", a).float32("b", b).build();
        VectorSchemaRoot output = client.predict("row-sum", input)) {
      if (output.getRowCount() != rows) {
        throw new AssertionError("unary: " + output.getRowCount() + " rows, want " + rows);
      }
      Float4Vector score = (Float4Vector) output.getVector("score");
      for (int i = 0; i < rows; i++) {
        if (score.get(i) != a[i] + b[i]) {
          throw new AssertionError(
              "unary row " + i + ": " + score.get(i) + " != " + a[i] + " + " + b[i]);
        }
      }
    }
    stats.calls.incrementAndGet();
    stats.rows.addAndGet(rows);
  }

  /** One PredictStream of 5 to 20 batches of 1 to 1,000 rows; every score is checked. */
  private void oneStream(PredictClient client, SplittableRandom random, Stats stats) {
    int[] rowsPerBatch = new int[5 + random.nextInt(16)];
    for (int i = 0; i < rowsPerBatch.length; i++) {
      rowsPerBatch[i] = 1 + random.nextInt(1000);
    }
    long seed = random.nextInt(1 << 20);
    long rows = 0;
    try (AbInput input = new AbInput(arrow.allocator(), seed, rowsPerBatch);
        PredictionStream results = client.predictStream(ModelRef.of("row-sum"), input)) {
      int batch = 0;
      while (results.next()) {
        VectorSchemaRoot root = results.root();
        if (batch >= rowsPerBatch.length || root.getRowCount() != rowsPerBatch[batch]) {
          throw new AssertionError(
              "stream batch "
                  + batch
                  + ": "
                  + root.getRowCount()
                  + " rows, want "
                  + (batch < rowsPerBatch.length ? rowsPerBatch[batch] : "no batch"));
        }
        Float4Vector score = (Float4Vector) root.getVector("score");
        for (int r = 0; r < rowsPerBatch[batch]; r++) {
          float want = AbInput.a(seed, batch, r) + AbInput.b(seed, batch, r);
          if (score.get(r) != want) {
            throw new AssertionError(
                "stream batch " + batch + " row " + r + ": " + score.get(r) + " != " + want);
          }
        }
        rows += rowsPerBatch[batch];
        batch++;
      }
      if (batch != rowsPerBatch.length) {
        throw new AssertionError("stream: " + batch + " results for " + rowsPerBatch.length);
      }
      stats.batches.addAndGet(batch);
    }
    stats.streams.incrementAndGet();
    stats.rows.addAndGet(rows);
  }

  private long awaitServerMemoryZero(PredictServer server) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (server.service().allocatedBytes() != 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    return server.service().allocatedBytes();
  }

  /** Gives threads that are ending (workers, transient helpers) up to 10 s to go. */
  private int awaitThreadsSettle(int target) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (threadBean.getThreadCount() > target && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    return threadBean.getThreadCount();
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Counters shared by the workers. */
  private static final class Stats {
    final AtomicLong calls = new AtomicLong();
    final AtomicLong streams = new AtomicLong();
    final AtomicLong batches = new AtomicLong();
    final AtomicLong rows = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final Queue<String> failures = new ConcurrentLinkedQueue<>();
    volatile long nanos;

    void fail(Throwable t) {
      if (errors.incrementAndGet() <= 5) {
        failures.add(Thread.currentThread().getName() + ": " + t);
        t.printStackTrace(System.out);
      }
    }
  }

  /**
   * Stream input of float32 columns a and b, batches of the given sizes, filled into one reused
   * root; values are a function of (seed, batch, row) so results can be checked without copies.
   */
  private static final class AbInput implements Iterator<VectorSchemaRoot>, AutoCloseable {
    private final VectorSchemaRoot root;
    private final long seed;
    private final int[] rowsPerBatch;
    private int batch;

    AbInput(BufferAllocator allocator, long seed, int[] rowsPerBatch) {
      this.seed = seed;
      this.rowsPerBatch = rowsPerBatch;
      Float4Vector a = new Float4Vector("a", allocator);
      Float4Vector b = new Float4Vector("b", allocator);
      this.root = VectorSchemaRoot.of(a, b);
    }

    static float a(long seed, int batch, int row) {
      return (float) ((seed + batch * 7919L + row) % 65_536);
    }

    static float b(long seed, int batch, int row) {
      return ((seed * 3 + batch + row * 13L) % 65_536) * 0.5f;
    }

    @Override
    public boolean hasNext() {
      return batch < rowsPerBatch.length;
    }

    @Override
    public VectorSchemaRoot next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      int rows = rowsPerBatch[batch];
      Float4Vector a = (Float4Vector) root.getVector("a");
      Float4Vector b = (Float4Vector) root.getVector("b");
      a.reset();
      b.reset();
      for (int r = 0; r < rows; r++) {
        a.setSafe(r, a(seed, batch, r));
        b.setSafe(r, b(seed, batch, r));
      }
      root.setRowCount(rows);
      batch++;
      return root;
    }

    @Override
    public void close() {
      root.close();
    }
  }
}
