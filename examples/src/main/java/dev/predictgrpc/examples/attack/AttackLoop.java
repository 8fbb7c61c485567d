/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Repeats an attack call for a while with a few calls in flight, counting how each ended: the shape
 * of a client that keeps sending the same hostile request. Holds no state between runs.
 */
public final class AttackLoop {
  private AttackLoop() {}

  /**
   * Starts calls with {@code call} until {@code duration} has passed or {@code maxCalls} have
   * started, keeping at most {@code inFlight} in progress, and waits up to a minute for the last
   * ones to end; each status is added to {@code tally}.
   *
   * @return how many calls were started
   */
  public static int run(
      Duration duration,
      int maxCalls,
      int inFlight,
      StatusTally tally,
      Supplier<CompletableFuture<Status>> call)
      throws InterruptedException {
    Semaphore slots = new Semaphore(inFlight);
    long deadline = System.nanoTime() + duration.toNanos();
    int started = 0;
    while (started < maxCalls && System.nanoTime() < deadline) {
      if (!slots.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
        break;
      }
      started++;
      call.get()
          .whenComplete(
              (status, error) -> {
                tally.add(status != null ? status : Status.fromThrowable(error));
                slots.release();
              });
    }
    if (!slots.tryAcquire(inFlight, 60, TimeUnit.SECONDS)) {
      tally.add(StatusTally.OPEN, "calls still open a minute after the attack");
    }
    return started;
  }
}
