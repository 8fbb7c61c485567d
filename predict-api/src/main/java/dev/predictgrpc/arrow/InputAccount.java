/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import org.apache.arrow.memory.AllocationReservation;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * Counts the input bytes a decoder holds but has not yet copied into Arrow buffers (queued chunks,
 * metadata being assembled) against its allocator's limit, and those of the allocator's
 * ancestors, without allocating anything.
 *
 * <p>Why: a message's body is allocated only once all of it has arrived, so that a client that
 * announces a big message and sends little holds little. Until then its bytes sit in network
 * buffers, which still cost memory; counting them means a per-call limit or a server-wide budget
 * bounds them too, and refuses a sender that goes over before anything more is held.
 *
 * <p>The count is an Arrow {@link AllocationReservation}, which takes its bytes from the limits
 * without allocating. A reservation rounds each addition up to a power of two, so the count is
 * built from exact powers of two (in 4 KiB granules) to stay within a granule of the truth.
 *
 * <p>Not thread-safe; owned by one decoder, which must {@link #releaseAll()} before its allocator
 * closes.
 */
final class InputAccount {
  private static final long GRANULE = 4096;
  /** Reservations shrink in steps of at least this much, so small calls make one at most. */
  private static final long SHRINK_STEP_BYTES = 64 << 10;

  private final BufferAllocator allocator;
  private @Nullable AllocationReservation reservation;
  /** Bytes reserved: the held bytes rounded up to a granule, or more until it is worth shrinking. */
  private long reserved;
  private long held;

  InputAccount(BufferAllocator allocator) {
    this.allocator = allocator;
  }

  /** The bytes counted now. */
  long held() {
    return held;
  }

  /**
   * Makes the count {@code bytes}. Growing reserves only the difference; shrinking gives memory
   * back once the count falls below half of what is reserved and by at least 64 KiB (or to
   * nothing), so a steady stream does not churn.
   *
   * @throws ArrowChunkException naming the refusing allocator if counting more breaks a limit;
   *     everything is released then, as the decoder fails
   */
  void holdExactly(long bytes, String what) {
    if (bytes > reserved) {
      reserve(roundUp(bytes) - reserved, what);
    } else if (bytes == 0) {
      releaseAll();
    } else if (bytes < reserved / 2 && worthShrinking(bytes)) {
      shrinkTo(bytes);
    }
    held = bytes;
  }

  /**
   * Stops counting {@code bytes} that are about to be allocated for real (a message body moving
   * from the queue into Arrow memory), so they do not count twice against the limit. Amounts
   * too small to matter stay counted until the next change, which saves a reservation per call.
   */
  void release(long bytes) {
    long remaining = Math.max(0, held - bytes);
    if (worthShrinking(remaining)) {
      shrinkTo(remaining);
    } else {
      held = remaining;
    }
  }

  /** True if shrinking to {@code bytes} would give back a worthwhile amount. */
  private boolean worthShrinking(long bytes) {
    return reserved - roundUp(bytes) >= SHRINK_STEP_BYTES;
  }

  /** Makes the count exactly {@code bytes} (to a granule), which must not be more than now. */
  private void shrinkTo(long bytes) {
    releaseAll();
    if (bytes > 0) {
      reserve(roundUp(bytes), "the input held");
    }
    held = bytes;
  }

  private void reserve(long bytes, String what) {
    if (reservation == null) {
      reservation = allocator.newReservation();
    }
    for (long rest = bytes; rest > 0; ) {
      long piece = Long.highestOneBit(rest);
      if (!reservation.add(piece)) {
        BufferAllocator refusing = MemoryLimits.firstWithoutRoom(allocator, piece);
        releaseAll();
        throw ArrowChunkException.memory(
            what
                + " does not fit in the memory limit"
                + (refusing == null ? "" : " of " + refusing.getLimit() + " bytes"),
            refusing != null ? refusing : allocator);
      }
      reserved += piece;
      rest -= piece;
    }
  }

  /** Releases the whole count. Idempotent. */
  void releaseAll() {
    if (reservation != null) {
      reservation.close();
      reservation = null;
    }
    reserved = 0;
    held = 0;
  }

  private static long roundUp(long bytes) {
    return (bytes + GRANULE - 1) / GRANULE * GRANULE;
  }
}
