/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A channel that cuts what is written to it into chunks of at most {@code maxChunkBytes} and hands
 * each full chunk to a {@link ChunkSink}. Not thread-safe.
 *
 * <p>Each chunk is written once into a fresh array and wrapped without a copy: the sink (gRPC) may
 * hold the chunk after we return, so an array is never reused once it has been handed out.
 */
final class ChunkingChannel implements WritableByteChannel {
  /** A flushed tail smaller than this fraction of a chunk is copied to an exact-size array. */
  private static final int SMALL_TAIL_DIVISOR = 8;

  private final int maxChunkBytes;
  private final ChunkSink sink;
  private byte[] current;
  private int filled;
  private long bytesEmitted;
  private boolean open = true;

  ChunkingChannel(int maxChunkBytes, ChunkSink sink) {
    this.maxChunkBytes = maxChunkBytes;
    this.sink = sink;
  }

  @Override
  public int write(ByteBuffer src) {
    int written = src.remaining();
    while (src.hasRemaining()) {
      if (current == null) {
        current = new byte[maxChunkBytes];
      }
      int n = Math.min(src.remaining(), maxChunkBytes - filled);
      src.get(current, filled, n);
      filled += n;
      if (filled == maxChunkBytes) {
        emit(UnsafeByteOperations.unsafeWrap(current));
        current = null;
      }
    }
    return written;
  }

  /** Hands the partly filled chunk, if any, to the sink. */
  void flush() {
    if (filled == 0) {
      return;
    }
    if (filled < maxChunkBytes / SMALL_TAIL_DIVISOR) {
      // Keep the big array for the next batch rather than pinning it under a tiny chunk.
      emit(ByteString.copyFrom(current, 0, filled));
    } else {
      emit(UnsafeByteOperations.unsafeWrap(current, 0, filled));
      current = null;
    }
  }

  long bytesEmitted() {
    return bytesEmitted;
  }

  private void emit(ByteString chunk) {
    bytesEmitted += chunk.size();
    filled = 0;
    sink.accept(chunk);
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    open = false;
  }
}
