/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The bytes field of a message that {@link ZeroCopyMarshaller} parsed without a copy: views of the
 * network buffers it arrived in (or of the pooled array it was copied into, when the transport
 * could not expose them), which stay valid until {@link #release()}.
 *
 * <p>Ownership: whoever holds it must call {@link #release()} once the bytes are no longer needed
 * (typically by handing it to {@code ArrowChunkDecoder.append(List, Runnable)}). Thread-safe;
 * {@link #release()} is idempotent.
 */
public final class ReceivedBytes {
  private final List<ByteBuffer> buffers;
  private final Runnable owner;
  private final AtomicBoolean released = new AtomicBoolean();

  /** @param owner gives the memory back: closes the detached stream, or returns the array */
  ReceivedBytes(List<ByteBuffer> buffers, Runnable owner) {
    this.buffers = List.copyOf(buffers);
    this.owner = owner;
  }

  /**
   * The views, in order. They are the transport's memory or a pooled array, not read-only
   * views: read them, never write them. Valid until {@link #release()}.
   */
  public List<ByteBuffer> buffers() {
    return buffers;
  }

  /** Returns the memory to the transport's pool, or the array to its pool. */
  public void release() {
    if (released.compareAndSet(false, true)) {
      owner.run();
    }
  }
}
