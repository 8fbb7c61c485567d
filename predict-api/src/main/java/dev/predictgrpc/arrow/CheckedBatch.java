/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;

/**
 * A record batch's field nodes and buffers once {@link BatchLoader#toCheckedBatch} has checked
 * them against the batch's header, its schema and its body, read in order by {@link
 * BatchLoader#load}. It plays the part of Arrow's {@code ArrowRecordBatch} without its lists,
 * boxed counts and buffer layout, which a loader does not need: those were a third of the garbage
 * of decoding a one-row request.
 *
 * <p>Its buffers are slices of the message body, which the caller keeps open until it has closed
 * this batch (taking a reference per slice, as {@code ArrowRecordBatch} does, cost two
 * synchronized updates of the body's reference count per buffer), and the buffers decompressed
 * from them, which it owns and releases on {@link #close()}. The caller owns the batch and must
 * close it. Not thread-safe: it also carries the read position of one load.
 */
final class CheckedBatch implements AutoCloseable {
  private final int length;
  private final ArrowFieldNode[] nodes;
  private final ArrowBuf[] buffers;
  private final long[] variadicCounts;
  private final List<ArrowBuf> owned;
  private int nextNode;
  private int nextBuffer;
  private int nextVariadicCount;
  private boolean closed;

  /**
   * A batch of {@code buffers}, which borrow the message body, except for {@code owned}, buffers
   * among them whose references pass to this batch.
   */
  CheckedBatch(
      int length,
      ArrowFieldNode[] nodes,
      ArrowBuf[] buffers,
      long[] variadicCounts,
      List<ArrowBuf> owned) {
    this.length = length;
    this.nodes = nodes;
    this.buffers = buffers;
    this.variadicCounts = variadicCounts;
    this.owned = owned;
  }

  /** The batch's row count. */
  int length() {
    return length;
  }

  /** The next field node, in schema order (depth first). */
  ArrowFieldNode nextNode() {
    return nodes[nextNode++];
  }

  /** Whether a variadic buffer count remains to be read. */
  boolean hasVariadicCount() {
    return nextVariadicCount < variadicCounts.length;
  }

  /** The next view column's count of variadic data buffers. */
  long nextVariadicCount() {
    return variadicCounts[nextVariadicCount++];
  }

  /** Buffers not yet read. */
  int remainingBuffers() {
    return buffers.length - nextBuffer;
  }

  /** The next {@code count} buffers, as a view; {@code count} must not exceed what remains. */
  List<ArrowBuf> nextBuffers(int count) {
    List<ArrowBuf> next = Arrays.asList(buffers).subList(nextBuffer, nextBuffer + count);
    nextBuffer += count;
    return next;
  }

  /** Whether anything was left unread: more buffers or variadic counts than the schema uses. */
  boolean hasUnread() {
    return nextBuffer < buffers.length || nextVariadicCount < variadicCounts.length;
  }

  /** Releases the buffers it owns. Calling it again has no effect. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      owned.forEach(ArrowBuf::close);
    }
  }
}
