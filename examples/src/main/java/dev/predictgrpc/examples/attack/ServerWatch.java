/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Samples a server's resources while an attack runs, and keeps the peaks: its Arrow memory (the
 * service's budget), the JVM's direct buffers (where the gRPC transport keeps what it has
 * received), heap in use, the process's resident set and the server's call threads. Sampling every
 * few milliseconds catches what a before/after comparison would miss: memory taken and given back
 * during the attack.
 *
 * <p>Thread-safe.
 */
public final class ServerWatch implements AutoCloseable {
  /** The name prefix of the threads {@code PredictServer}'s own executor creates. */
  public static final String SERVER_THREAD_PREFIX = "predictgrpc-server-";

  /**
   * Peaks seen so far, all in bytes except {@code serverThreads}; {@code rssBytes} is the process's
   * resident set (-1 where /proc is missing).
   */
  public record Peaks(
      long arrowBytes, long directBytes, long heapBytes, long rssBytes, int serverThreads) {
    /** "Arrow 1.2 MiB, direct buffers 5.0 MiB, heap 80.3 MiB, RSS 301.0 MiB, 4 server threads". */
    public String summary() {
      return String.format(
          Locale.ROOT,
          "Arrow %s, direct buffers %s, heap %s, RSS %s, %d server threads",
          mib(arrowBytes),
          mib(directBytes),
          mib(heapBytes),
          mib(rssBytes),
          serverThreads);
    }
  }

  private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

  private final LongSupplier arrowBytes;
  private final Thread thread;
  private final long periodMillis;
  private volatile boolean stopping;
  private long arrowPeak;
  private long directPeak;
  private long heapPeak;
  private long rssPeak;
  private int threadsPeak;

  private ServerWatch(LongSupplier arrowBytes, Duration period) {
    this.arrowBytes = arrowBytes;
    this.periodMillis = Math.max(1, period.toMillis());
    this.thread = new Thread(this::loop, "server-watch");
    thread.setDaemon(true);
  }

  /** Starts sampling every {@code period}; {@code arrowBytes} reads the server's Arrow memory. */
  public static ServerWatch start(LongSupplier arrowBytes, Duration period) {
    ServerWatch watch = new ServerWatch(arrowBytes, period);
    watch.sample();
    watch.thread.start();
    return watch;
  }

  /** The peaks since the start or the last {@link #reset()}. */
  public synchronized Peaks peaks() {
    return new Peaks(arrowPeak, directPeak, heapPeak, rssPeak, threadsPeak);
  }

  /** Forgets the peaks seen so far; the next ones start from the current values. */
  public void reset() {
    synchronized (this) {
      arrowPeak = 0;
      directPeak = 0;
      heapPeak = 0;
      rssPeak = 0;
      threadsPeak = 0;
    }
    sample();
  }

  /** Stops sampling. */
  @Override
  public void close() {
    stopping = true;
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Bytes of the JVM's direct buffers in use now (what {@code ByteBuffer.allocateDirect} holds).
   */
  public static long directBytes() {
    for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (pool.getName().equals("direct")) {
        return pool.getMemoryUsed();
      }
    }
    return -1;
  }

  /** Threads alive now whose names start with {@link #SERVER_THREAD_PREFIX}. */
  public static int serverThreads() {
    int count = 0;
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.getName().startsWith(SERVER_THREAD_PREFIX)) {
        count++;
      }
    }
    return count;
  }

  /**
   * Heap in use after asking for full collections; precise enough to compare before and after an
   * attack with a few MiB of slack.
   */
  public static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(20);
    }
    return MEMORY.getHeapMemoryUsage().getUsed();
  }

  /** "12.3 MiB". */
  public static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  private void loop() {
    int round = 0;
    while (!stopping) {
      // Counting threads walks every thread's stack, and RSS means reading a file: a tenth as
      // often as the cheap samples.
      sampleMemory();
      if (round++ % 10 == 0) {
        sampleThreadsAndRss();
      }
      try {
        Thread.sleep(periodMillis);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void sample() {
    sampleMemory();
    sampleThreadsAndRss();
  }

  private void sampleMemory() {
    long arrow = arrowBytes.getAsLong();
    long direct = directBytes();
    long heap = MEMORY.getHeapMemoryUsage().getUsed();
    synchronized (this) {
      arrowPeak = Math.max(arrowPeak, arrow);
      directPeak = Math.max(directPeak, direct);
      heapPeak = Math.max(heapPeak, heap);
    }
  }

  private void sampleThreadsAndRss() {
    int threads = serverThreads();
    long rss = rssBytes();
    synchronized (this) {
      threadsPeak = Math.max(threadsPeak, threads);
      rssPeak = Math.max(rssPeak, rss);
    }
  }

  /** The process's resident set size now (Linux {@code VmRSS}), or -1 where /proc is missing. */
  public static long rssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux.
    }
    return -1;
  }
}
