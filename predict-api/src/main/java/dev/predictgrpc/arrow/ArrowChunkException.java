/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when chunked Arrow IPC input cannot be decoded: either the bytes are not a valid Arrow
 * IPC stream ({@link Reason#MALFORMED}) or they are valid but exceed a configured limit ({@link
 * Reason#LIMIT_EXCEEDED}).
 *
 * <p>The message describes the problem for the party that sent the bytes (which message, which
 * field, which limit) and never includes internal details.
 *
 * @since 0.1
 */
public final class ArrowChunkException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why decoding failed. */
  public enum Reason {
    /** The bytes break the Arrow IPC streaming format or the chunk framing rules. */
    MALFORMED,
    /** The input is well formed but larger than a configured limit allows. */
    LIMIT_EXCEEDED
  }

  private final Reason reason;
  private final transient @Nullable BufferAllocator refusingAllocator;

  /** Creates an exception for the given reason with a message naming the problem. */
  public ArrowChunkException(Reason reason, String message) {
    super(message);
    this.reason = reason;
    this.refusingAllocator = null;
  }

  /** Creates an exception for the given reason with a message naming the problem. */
  public ArrowChunkException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
    this.refusingAllocator = MemoryLimits.refusingAllocator(cause);
  }

  private ArrowChunkException(String message, BufferAllocator refusingAllocator) {
    super(message);
    this.reason = Reason.LIMIT_EXCEEDED;
    this.refusingAllocator = refusingAllocator;
  }

  /** Why decoding failed. */
  public Reason reason() {
    return reason;
  }

  /**
   * For input that did not fit in memory, the allocator whose limit refused it (the decoder's own
   * or one of its ancestors), so the caller can name the setting behind that limit; otherwise
   * null. Borrowed: the caller must not close it.
   */
  public @Nullable BufferAllocator refusingAllocator() {
    return refusingAllocator;
  }

  static ArrowChunkException memory(String message, BufferAllocator refusingAllocator) {
    return new ArrowChunkException(message, refusingAllocator);
  }

  static ArrowChunkException malformed(String message) {
    return new ArrowChunkException(Reason.MALFORMED, message);
  }

  static ArrowChunkException limit(String message) {
    return new ArrowChunkException(Reason.LIMIT_EXCEEDED, message);
  }
}
