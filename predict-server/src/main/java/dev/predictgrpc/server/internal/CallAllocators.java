/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Creates and closes the per-call child allocators of one service, and counts the open ones so
 * that the service can wait for its calls to let go of their memory before closing its own
 * allocator. (A gRPC server counts as terminated once its transports are closed, while a handler
 * thread of a cancelled call may still be unwinding.) Thread-safe.
 */
final class CallAllocators {
  private static final Logger logger = Logger.getLogger(CallAllocators.class.getName());
  private static final AtomicLong callIds = new AtomicLong();

  /** How every call allocator's name starts; the model's name and version follow. */
  static final String CALL_PREFIX = "call-";

  private final BufferAllocator parent;
  private int open; // Guarded by this.

  CallAllocators(BufferAllocator parent) {
    this.parent = parent;
  }

  /** A named child allocator for one call; its limit is the per-call memory limit. */
  BufferAllocator open(String model, long limit) {
    synchronized (this) {
      open++;
    }
    try {
      return parent.newChildAllocator(CALL_PREFIX + callIds.incrementAndGet() + "-" + model, 0, limit);
    } catch (RuntimeException e) {
      closed();
      throw e;
    }
  }

  /** Closes a call's allocator from {@link #open}; see {@link #release}. */
  void close(BufferAllocator allocator) {
    try {
      release(allocator);
    } finally {
      closed();
    }
  }

  private synchronized void closed() {
    open--;
    notifyAll();
  }

  /**
   * Waits up to {@code timeout} until every allocator from {@link #open} is closed.
   *
   * @return true if all are closed
   * @throws InterruptedException if interrupted while waiting
   */
  synchronized boolean awaitAllClosed(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (open > 0) {
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, remaining);
    }
    return true;
  }

  /**
   * Closes an allocator of a call or batch. A leak is logged with the allocator's account of what
   * is still held (the model's name is in the allocator's name) instead of failing a call whose
   * answer may already have been sent.
   */
  static void release(BufferAllocator allocator) {
    long leaked = allocator.getAllocatedMemory();
    if (leaked != 0) {
      logger.log(
          Level.SEVERE,
          "Arrow memory leaked by call " + allocator.getName() + ": " + leaked + " bytes\n"
              + allocator.toVerboseString());
    }
    try {
      allocator.close();
    } catch (IllegalStateException e) {
      logger.log(Level.SEVERE, "could not close allocator " + allocator.getName(), e);
    }
  }
}
