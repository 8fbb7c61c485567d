/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/** A real response observer: keeps every message and the final status. Thread-safe. */
final class Collector<T> implements StreamObserver<T> {
  private final List<T> messages = new ArrayList<>();
  private final CountDownLatch done = new CountDownLatch(1);
  private final CountDownLatch firstMessage = new CountDownLatch(1);
  private volatile @Nullable Status status;

  @Override
  public synchronized void onNext(T value) {
    messages.add(value);
    firstMessage.countDown();
  }

  @Override
  public void onError(Throwable t) {
    status = Status.fromThrowable(t);
    done.countDown();
  }

  @Override
  public void onCompleted() {
    status = Status.OK;
    done.countDown();
  }

  /** Waits up to 10 s for the call to end and returns its status. */
  Status awaitStatus() {
    try {
      assertThat(done.await(10, TimeUnit.SECONDS)).as("the call ended within 10 s").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
    return status;
  }

  /** Waits up to 10 s for the first message. */
  void awaitFirstMessage() throws InterruptedException {
    assertThat(firstMessage.await(10, TimeUnit.SECONDS)).as("a message within 10 s").isTrue();
  }

  boolean isDone() {
    return done.getCount() == 0;
  }

  synchronized List<T> messages() {
    return List.copyOf(messages);
  }
}
