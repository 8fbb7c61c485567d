/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import org.apache.arrow.memory.AllocationOutcomeDetails;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.jspecify.annotations.Nullable;

/**
 * Tells which allocator's limit refused memory, so that a server can name the setting behind it
 * (a per-call limit, a server-wide budget) instead of blaming whoever happened to allocate.
 *
 * <p>Holds no state; safe from any thread.
 *
 * @since 0.2
 */
public final class MemoryLimits {
  private MemoryLimits() {}

  /**
   * True if {@code error} is, or was caused by, an allocator refusing memory: Arrow's {@link
   * OutOfMemoryException}, an {@link ArrowChunkException} for input over a memory limit, or the
   * JVM running out of heap or direct memory.
   */
  public static boolean isOutOfMemory(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof OutOfMemoryException
          || t instanceof OutOfMemoryError
          || (t instanceof ArrowChunkException && ((ArrowChunkException) t).refusingAllocator() != null)) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  /**
   * The allocator whose limit refused memory somewhere in {@code error}'s causes, or null if none
   * is known (the JVM itself ran out, or Arrow gave no details). Borrowed: do not close it.
   */
  public static @Nullable BufferAllocator refusingAllocator(@Nullable Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof ArrowChunkException && ((ArrowChunkException) t).refusingAllocator() != null) {
        return ((ArrowChunkException) t).refusingAllocator();
      }
      if (t instanceof OutOfMemoryException) {
        BufferAllocator failed =
            ((OutOfMemoryException) t)
                .getOutcomeDetails()
                .map(AllocationOutcomeDetails::getFailedAllocator)
                .orElse(null);
        if (failed != null) {
          return failed;
        }
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  /**
   * The allocator, from {@code allocator} up through its ancestors, whose limit {@code bytes} more
   * would break first, or null if they all have room. Another thread may take or free memory at
   * the same time, so this explains a refusal; it does not promise that an allocation succeeds.
   */
  static @Nullable BufferAllocator firstWithoutRoom(BufferAllocator allocator, long bytes) {
    for (BufferAllocator a = allocator; a != null; a = a.getParentAllocator()) {
      if (a.getLimit() - a.getAllocatedMemory() < bytes) {
        return a;
      }
    }
    return null;
  }
}
