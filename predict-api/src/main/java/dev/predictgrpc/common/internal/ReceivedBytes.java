/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The bytes field of a message that {@link ZeroCopyMarshaller} parsed without a copy: views of the
 * network buffers it arrived in, which stay valid until {@link #release()}.
 *
 * <p>Ownership: whoever holds it must call {@link #release()} once the bytes are no longer needed
 * (typically by handing it to {@code ArrowChunkDecoder.append(List, Runnable)}). Thread-safe;
 * {@link #release()} is idempotent.
 */
public final class ReceivedBytes {
  private final List<ByteBuffer> buffers;
  private final InputStream owner;
  private final AtomicBoolean released = new AtomicBoolean();

  ReceivedBytes(List<ByteBuffer> buffers, InputStream owner) {
    this.buffers = List.copyOf(buffers);
    this.owner = owner;
  }

  /** Read-only use: the views, in order. Valid until {@link #release()}. */
  public List<ByteBuffer> buffers() {
    return buffers;
  }

  /** Returns the network buffers to the transport's pool. */
  public void release() {
    if (released.compareAndSet(false, true)) {
      try {
        owner.close();
      } catch (IOException ignored) {
        // Closing a detached gRPC stream drops reference counts; it does not fail in practice.
      }
    }
  }
}
