/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;

/** Creates and closes the per-call child allocators. Thread-safe. */
final class CallAllocators {
  private static final Logger logger = Logger.getLogger(CallAllocators.class.getName());
  private static final AtomicLong callIds = new AtomicLong();

  private CallAllocators() {}

  /** A named child allocator for one call; its limit is the per-call memory limit. */
  static BufferAllocator open(BufferAllocator parent, String model, long limit) {
    return parent.newChildAllocator("call-" + callIds.incrementAndGet() + "-" + model, 0, limit);
  }

  /**
   * Closes a call's allocator. A leak is logged with the allocator's account of what is still held
   * (the model's name is in the allocator's name) instead of failing a call whose answer may
   * already have been sent.
   */
  static void close(BufferAllocator allocator) {
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
