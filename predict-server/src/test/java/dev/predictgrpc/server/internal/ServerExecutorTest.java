/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The bounded executor PredictServer creates when the application passes none. */
class ServerExecutorTest {
  @Test
  void busyThreads_neverExceedTheBound_andFurtherTasksQueueUntilOneIsFree() throws Exception {
    ThreadPoolExecutor executor = ServerExecutor.create(3);
    try {
      CountDownLatch release = new CountDownLatch(1);
      AtomicInteger running = new AtomicInteger();
      AtomicInteger mostRunning = new AtomicInteger();
      CountDownLatch done = new CountDownLatch(10);
      Set<String> threads = ConcurrentHashMap.newKeySet();
      AtomicInteger nonDaemon = new AtomicInteger();
      for (int i = 0; i < 10; i++) {
        executor.execute(
            () -> {
              threads.add(Thread.currentThread().getName());
              if (!Thread.currentThread().isDaemon()) {
                nonDaemon.incrementAndGet();
              }
              mostRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
              try {
                release.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                running.decrementAndGet();
                done.countDown();
              }
            });
      }
      awaitTrue(() -> running.get() == 3);
      assertThat(executor.getQueue()).hasSize(7);

      release.countDown();
      assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(mostRunning.get()).isEqualTo(3);
      assertThat(executor.getLargestPoolSize()).isEqualTo(3);
      assertThat(threads).hasSize(3).allMatch(name -> name.startsWith("predictgrpc-server-"));
      assertThat(nonDaemon.get()).as("threads that would keep the JVM alive").isZero();
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void aTaskGoesToAnIdleThread_ratherThanANewOne() throws Exception {
    ThreadPoolExecutor executor = ServerExecutor.create(64);
    ServerExecutor.HandOffQueue queue = (ServerExecutor.HandOffQueue) executor.getQueue();
    try {
      Set<String> threads = ConcurrentHashMap.newKeySet();
      for (int i = 0; i < 20; i++) {
        if (i > 0) {
          // The previous task's thread is parked, waiting for work.
          awaitTrue(queue::hasWaitingConsumer);
        }
        CountDownLatch ran = new CountDownLatch(1);
        executor.execute(
            () -> {
              threads.add(Thread.currentThread().getName());
              ran.countDown();
            });
        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(threads).hasSize(1);
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void afterShutdown_tasksAreRejected() {
    ThreadPoolExecutor executor = ServerExecutor.create(2);
    executor.shutdown();
    assertThatThrownBy(() -> executor.execute(() -> {}))
        .isInstanceOf(RejectedExecutionException.class);
  }

  @Test
  void boundBelowOne_isRejected() {
    assertThatThrownBy(() -> ServerExecutor.create(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxThreads: 0 (expected: > 0)");
  }

  private static void awaitTrue(java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition within 10 s").isLessThan(deadline);
      Thread.sleep(2);
    }
  }
}
