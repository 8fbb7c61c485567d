/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import org.apache.arrow.memory.ArrowBuf;

/**
 * The appended chunks that {@link ArrowChunkDecoder} has not consumed yet, read front to back.
 *
 * <p>Chunks are held as given, never concatenated, so queued input costs no copy; each byte is
 * copied once, when it is read into the message being assembled. A chunk is dropped, and its
 * release action run, as soon as its last byte has been read or the queue is cleared.
 *
 * <p>Not thread-safe; owned by one decoder. Holds no Arrow memory: the caller retains ownership of
 * any {@code ArrowBuf} it reads into.
 */
final class ChunkQueue {
  private static final Runnable NOTHING_TO_RELEASE = () -> {};

  private final ArrayDeque<ByteString> chunks = new ArrayDeque<>();
  /** Runs when the chunk at the same position is dropped; parallel to {@link #chunks}. */
  private final ArrayDeque<Runnable> releases = new ArrayDeque<>();

  /** How far into the first chunk reading has got. */
  private int offset;

  /** Queues {@code chunk}, which must not be empty. */
  void add(ByteString chunk) {
    add(chunk, NOTHING_TO_RELEASE);
  }

  /**
   * Queues {@code chunk}, which must not be empty, and runs {@code release} once its bytes are no
   * longer needed.
   */
  void add(ByteString chunk, Runnable release) {
    chunks.add(chunk);
    releases.add(release);
  }

  boolean isEmpty() {
    return chunks.isEmpty();
  }

  /** Drops all queued input, running every release action even if one of them throws. */
  void clear() {
    chunks.clear();
    offset = 0;
    RuntimeException failure = null;
    for (Runnable release = releases.poll(); release != null; release = releases.poll()) {
      try {
        release.run();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Copies up to {@code max} queued bytes, from the first chunk only, into {@code target}; returns
   * the count copied. The queue must not be empty.
   */
  int copyTo(byte[] target, int targetOffset, int max) {
    ByteString head = chunks.peekFirst();
    int n = Math.min(max, head.size() - offset);
    head.copyTo(target, offset, targetOffset, n);
    advance(head, n);
    return n;
  }

  /**
   * Copies up to {@code max} queued bytes, from the first chunk only, into {@code target}; returns
   * the count copied. The queue must not be empty.
   */
  long copyTo(ArrowBuf target, long targetOffset, long max) {
    ByteString head = chunks.peekFirst();
    int n = (int) Math.min(max, head.size() - offset);
    // Copy into a direct view of the Arrow buffer: ByteString.copyTo(ByteBuffer) then moves each
    // piece with one bulk copy. ArrowBuf.setBytes(long, ByteBuffer) would see read-only heap pieces
    // as array-less and copy them 8 bytes at a time with bounds checks: measured as 36-39% of all
    // streaming CPU on both sides before this change (see examples/.../bench/RESULTS.md).
    head.substring(offset, offset + n).copyTo(target.nioBuffer(targetOffset, n));
    advance(head, n);
    return n;
  }

  private void advance(ByteString head, int n) {
    offset += n;
    if (offset == head.size()) {
      chunks.removeFirst();
      offset = 0;
      releases.removeFirst().run();
    }
  }
}
