/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The executor {@code PredictServer} runs calls and models on when the application passes none: at
 * most {@code maxThreads} daemon threads named {@code predictgrpc-server-N}, idle ones ending after
 * {@value #KEEP_ALIVE_SECONDS} s (one always stays), and an unbounded queue for work beyond that.
 * Whoever creates it owns it and shuts it down.
 *
 * <p>Why not a plain {@code ThreadPoolExecutor(max, max, ...)} with core threads timing out: that
 * starts a new thread for every task until it has {@code max} of them, idle threads or not, so a
 * server answering one call at a time would soon hold hundreds of parked threads (the default bound
 * is 64 per processor). Here a task goes to an idle thread if one is waiting, else to a new thread
 * while fewer than {@code max} exist, and only then to the queue, as gRPC's default cached pool
 * behaves below the bound.
 *
 * <p>Thread-safe, like any {@link ThreadPoolExecutor}.
 */
public final class ServerExecutor {
  static final int KEEP_ALIVE_SECONDS = 60;
  static final String THREAD_PREFIX = "predictgrpc-server-";

  /** Numbers threads across servers, so that each thread's name is unique in the JVM. */
  private static final AtomicInteger threadIds = new AtomicInteger();

  private ServerExecutor() {}

  /**
   * Creates an executor of at most {@code maxThreads} threads; the caller owns it.
   *
   * @throws IllegalArgumentException if {@code maxThreads < 1}
   */
  public static ThreadPoolExecutor create(int maxThreads) {
    if (maxThreads < 1) {
      throw new IllegalArgumentException("maxThreads: " + maxThreads + " (expected: > 0)");
    }
    AtomicInteger live = new AtomicInteger();
    HandOffQueue queue = new HandOffQueue(live, maxThreads);
    ThreadFactory threads =
        task -> {
          Thread thread =
              new Thread(
                  () -> {
                    try {
                      task.run();
                    } finally {
                      live.decrementAndGet();
                    }
                  },
                  THREAD_PREFIX + threadIds.incrementAndGet());
          thread.setDaemon(true);
          live.incrementAndGet();
          return thread;
        };
    // One core thread that never times out: a task the rejection handler queues while the last
    // other thread is timing out is then never left without a thread to run it.
    ThreadPoolExecutor executor =
        new ThreadPoolExecutor(
            1,
            maxThreads,
            KEEP_ALIVE_SECONDS,
            TimeUnit.SECONDS,
            queue,
            threads,
            (task, pool) -> {
              if (pool.isShutdown()) {
                throw new RejectedExecutionException("the server's executor is shut down");
              }
              // Every thread is busy and there may be no more: wait in the queue.
              queue.enqueue(task);
            });
    return executor;
  }

  /**
   * Refuses a task (so that the pool starts a thread for it) while the pool is below its bound and
   * no idle thread is waiting to take it.
   */
  static final class HandOffQueue extends LinkedTransferQueue<Runnable> {
    private static final long serialVersionUID = 1L;

    /**
     * Threads created and not yet ended. {@link ThreadPoolExecutor#getPoolSize()} would say the
     * same but takes the pool's main lock on every task; this is only a hint, since the pool itself
     * enforces the bound.
     */
    private final transient AtomicInteger live;

    private final int maxThreads;

    HandOffQueue(AtomicInteger live, int maxThreads) {
      this.live = live;
      this.maxThreads = maxThreads;
    }

    @Override
    public boolean offer(Runnable task) {
      if (tryTransfer(task)) {
        return true;
      }
      return live.get() >= maxThreads && super.offer(task);
    }

    void enqueue(Runnable task) {
      super.offer(task);
    }
  }
}
