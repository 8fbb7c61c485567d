/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The appended chunks that {@link ArrowChunkDecoder} has not consumed yet, read front to back.
 *
 * <p>Chunks are held as given, as views, never concatenated, so queued input costs no copy; each
 * byte is copied once, when it is read into the message being assembled. A chunk is dropped, and
 * its release action run, as soon as its last byte has been read or the queue is cleared.
 *
 * <p>Not thread-safe; owned by one decoder. Holds no Arrow memory: the caller retains ownership of
 * any {@code ArrowBuf} it reads into.
 */
final class ChunkQueue {
  private static final Runnable NOTHING_TO_RELEASE = () -> {};

  /** Views of the queued bytes; their positions and limits never change once queued. */
  private final ArrayDeque<ByteBuffer> pieces = new ArrayDeque<>();
  /** Runs when the piece at the same position is dropped; parallel to {@link #pieces}. */
  private final ArrayDeque<Runnable> releases = new ArrayDeque<>();

  /** How far into the first piece reading has got. */
  private int offset;

  /** The bytes queued and not yet read. */
  private long queuedBytes;

  /** Queues {@code chunk}, which must not be empty. */
  void add(ByteString chunk) {
    add(chunk.asReadOnlyByteBufferList(), NOTHING_TO_RELEASE);
  }

  /**
   * Queues the bytes of {@code chunk}, which must not all be empty, and runs {@code release} once
   * they are no longer needed. The buffers are views: the queue reads them with absolute gets and
   * never moves their positions.
   */
  void add(List<ByteBuffer> chunk, Runnable release) {
    int last = chunk.size() - 1;
    while (last >= 0 && !chunk.get(last).hasRemaining()) {
      last--;
    }
    for (int i = 0; i <= last; i++) {
      ByteBuffer piece = chunk.get(i);
      if (piece.hasRemaining()) {
        queuedBytes += piece.remaining();
        pieces.add(piece);
        releases.add(i == last ? release : NOTHING_TO_RELEASE);
      }
    }
  }

  boolean isEmpty() {
    return pieces.isEmpty();
  }

  /** The bytes queued and not yet read. */
  long queuedBytes() {
    return queuedBytes;
  }

  /** Drops all queued input, running every release action even if one of them throws. */
  void clear() {
    pieces.clear();
    offset = 0;
    queuedBytes = 0;
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
   * Copies up to {@code max} queued bytes, from the first piece only, into {@code target}; returns
   * the count copied. The queue must not be empty.
   */
  int copyTo(byte[] target, int targetOffset, int max) {
    ByteBuffer head = pieces.peekFirst();
    int n = Math.min(max, head.remaining() - offset);
    head.get(head.position() + offset, target, targetOffset, n);
    advance(head, n);
    return n;
  }

  /**
   * Copies up to {@code max} queued bytes, from the first piece only, into {@code target}; returns
   * the count copied. The queue must not be empty.
   */
  long copyTo(ArrowBuf target, long targetOffset, long max) {
    ByteBuffer head = pieces.peekFirst();
    int n = (int) Math.min(max, head.remaining() - offset);
    if (head.isDirect()) {
      // Network buffers: one memory-to-memory copy, without the ByteBuffer view of the Arrow
      // buffer that nioBuffer() builds by reflection (three objects per call).
      target.checkBytes(targetOffset, targetOffset + n);
      MemoryUtil.copyMemory(
          MemoryUtil.getByteBufferAddress(head) + head.position() + offset,
          target.memoryAddress() + targetOffset,
          n);
    } else {
      // One bulk copy into a direct view of the Arrow buffer. ArrowBuf.setBytes(long, ByteBuffer)
      // would copy read-only heap pieces 8 bytes at a time with bounds checks: measured as 36-39%
      // of all streaming CPU on both sides before we copied this way (see bench/RESULTS.md).
      target.nioBuffer(targetOffset, n).put(0, head, head.position() + offset, n);
    }
    advance(head, n);
    return n;
  }

  private void advance(ByteBuffer head, int n) {
    queuedBytes -= n;
    offset += n;
    if (offset == head.remaining()) {
      pieces.removeFirst();
      offset = 0;
      releases.removeFirst().run();
    }
  }
}
