/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.util.concurrent.ArrayBlockingQueue;

/**
 * Recycles the heap arrays that {@link ArrowChunkEncoder} cuts big chunks into, for senders
 * that know when the transport is done with a chunk (see {@link PooledChunkSink}); receivers use
 * one too, for the few messages the transport cannot lend without a copy.
 *
 * <p>Why: a stream of a 1 GB table otherwise allocates 1 GB of 1 MiB arrays on each side. That
 * garbage makes the garbage collector grow the heap, so a process's peak memory grew with the size
 * of the table it streamed (1.5-2x from a 128 MB to a 1.28 GB table in the benchmark) although it
 * never held more than a few batches.
 *
 * <p>The pool holds at most {@code maxIdleArrays} idle arrays; arrays given back beyond that are
 * left to the garbage collector, and an empty pool allocates, so a pool never blocks and never
 * holds more than {@code arrayBytes * maxIdleArrays} bytes of idle heap. Thread-safe: share one
 * pool between many streams.
 *
 * @since 0.2
 */
public final class ChunkPool {
  private final int arrayBytes;
  private final ArrayBlockingQueue<byte[]> idle;

  private ChunkPool(int arrayBytes, int maxIdleArrays) {
    this.arrayBytes = arrayBytes;
    this.idle = new ArrayBlockingQueue<>(maxIdleArrays);
  }

  /**
   * Creates a pool of arrays of {@code arrayBytes}, which must equal the {@code maxChunkBytes} of
   * the encoders that use it.
   *
   * @throws IllegalArgumentException if {@code arrayBytes} is below 64 or {@code maxIdleArrays}
   *     below 1
   */
  public static ChunkPool create(int arrayBytes, int maxIdleArrays) {
    if (arrayBytes < ArrowChunkEncoder.MIN_CHUNK_BYTES) {
      throw new IllegalArgumentException(
          "arrayBytes: " + arrayBytes + " (expected: >= " + ArrowChunkEncoder.MIN_CHUNK_BYTES + ")");
    }
    if (maxIdleArrays < 1) {
      throw new IllegalArgumentException("maxIdleArrays: " + maxIdleArrays + " (expected: >= 1)");
    }
    return new ChunkPool(arrayBytes, maxIdleArrays);
  }

  /** The size of the pooled arrays. */
  public int arrayBytes() {
    return arrayBytes;
  }

  /** Arrays waiting to be reused. */
  public int idleArrays() {
    return idle.size();
  }

  /**
   * Drops every idle array, for an owner that is done with the pool but may stay reachable; arrays
   * given back later are kept as usual.
   */
  public void clear() {
    idle.clear();
  }

  /**
   * An array of {@link #arrayBytes()}, reused if one is idle; its content is undefined. The caller
   * owns it until it hands it back with {@link #give}, or drops it.
   */
  public byte[] take() {
    byte[] array = idle.poll();
    return array != null ? array : new byte[arrayBytes];
  }

  /**
   * Takes back an array from {@link #take()} that nothing reads or writes any more; the caller
   * must not touch it afterwards.
   *
   * @throws IllegalArgumentException if the array is not {@link #arrayBytes()} long
   */
  public void give(byte[] array) {
    if (array.length != arrayBytes) {
      // Handed out later, a wrong-sized array would break whoever fills it.
      throw new IllegalArgumentException(
          "array of " + array.length + " bytes given to a pool of " + arrayBytes + "-byte arrays");
    }
    idle.offer(array); // Dropped for the garbage collector when the pool is full.
  }
}
