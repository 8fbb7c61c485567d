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
 * <p>Holds one reference on each buffer, taken when it is built and released by {@link #close()};
 * the caller owns it and must close it. Not thread-safe: it also carries the read position of one
 * load.
 */
final class CheckedBatch implements AutoCloseable {
  private final int length;
  private final ArrowFieldNode[] nodes;
  private final ArrowBuf[] buffers;
  private final long[] variadicCounts;
  private int nextNode;
  private int nextBuffer;
  private int nextVariadicCount;
  private boolean closed;

  /** Takes a reference on every buffer of {@code buffers}; see {@link #close()}. */
  CheckedBatch(int length, ArrowFieldNode[] nodes, ArrowBuf[] buffers, long[] variadicCounts) {
    this.length = length;
    this.nodes = nodes;
    this.buffers = buffers;
    this.variadicCounts = variadicCounts;
    for (ArrowBuf buffer : buffers) {
      buffer.getReferenceManager().retain();
    }
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

  /** Releases the references taken when it was built. Calling it again has no effect. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      for (ArrowBuf buffer : buffers) {
        buffer.getReferenceManager().release();
      }
    }
  }
}
