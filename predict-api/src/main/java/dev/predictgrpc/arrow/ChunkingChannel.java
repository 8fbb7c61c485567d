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
  /** A flushed tail smaller than this fraction of its array is copied to an exact-size array. */
  private static final int SMALL_TAIL_DIVISOR = 8;

  /**
   * The smallest array allocated for a chunk. Arrays are sized to the bytes expected before the
   * next flush (see {@link #expect}), so a one-row unary batch does not allocate and zero a whole
   * 1 MiB chunk: the benchmark measured that as most of a unary call's cost, and 1 MiB arrays are
   * G1 humongous objects besides.
   */
  static final int MIN_ARRAY_BYTES = 16 << 10;

  private final int maxChunkBytes;
  private final ChunkSink sink;
  private byte[] current;
  private int filled;
  private long expected;
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
        current = new byte[(int) Math.min(maxChunkBytes, Math.max(expected, MIN_ARRAY_BYTES))];
      }
      int n = Math.min(src.remaining(), current.length - filled);
      src.get(current, filled, n);
      filled += n;
      expected = Math.max(0, expected - n);
      if (filled == current.length) {
        emit(UnsafeByteOperations.unsafeWrap(current));
        current = null;
      }
    }
    return written;
  }

  /**
   * Announces how many bytes will be written before the next {@link #flush()}, so chunk arrays can
   * be sized to them. Only a hint: more or fewer bytes may follow.
   */
  void expect(long bytes) {
    this.expected = bytes;
  }

  /** Hands the partly filled chunk, if any, to the sink. */
  void flush() {
    expected = 0;
    if (filled == 0) {
      return;
    }
    if (filled < current.length / SMALL_TAIL_DIVISOR) {
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
