/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import io.grpc.Drainable;
import io.grpc.KnownLength;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The serialized form of a message whose bytes are lent, as gRPC reads it: protobuf's own stream,
 * which gRPC drains straight into its buffers ({@link Drainable}) and sizes up front ({@link
 * KnownLength}), plus an action that gives the bytes back when gRPC closes the stream. Over
 * Netty, gRPC closes it right after writing the message out; in-process, after the receiver has
 * parsed it. Used by one gRPC thread at a time; {@link #close()} is idempotent.
 */
final class LentMessageStream extends InputStream implements Drainable, KnownLength {
  private final InputStream serialized;
  private final Runnable release;
  private final AtomicBoolean released = new AtomicBoolean();

  /** {@code serialized} must be Drainable and KnownLength, as protobuf's marshaller streams are. */
  LentMessageStream(InputStream serialized, Runnable release) {
    this.serialized = serialized;
    this.release = release;
  }

  @Override
  public int drainTo(OutputStream target) throws IOException {
    return ((Drainable) serialized).drainTo(target);
  }

  @Override
  public int available() throws IOException {
    return serialized.available();
  }

  @Override
  public int read() throws IOException {
    return serialized.read();
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    return serialized.read(b, off, len);
  }

  @Override
  public void close() throws IOException {
    try {
      serialized.close();
    } finally {
      if (released.compareAndSet(false, true)) {
        release.run();
      }
    }
  }
}
