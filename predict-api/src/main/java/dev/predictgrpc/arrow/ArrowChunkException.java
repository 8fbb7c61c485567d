/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

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

  /** Creates an exception for the given reason with a message naming the problem. */
  public ArrowChunkException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  /** Creates an exception for the given reason with a message naming the problem. */
  public ArrowChunkException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  /** Why decoding failed. */
  public Reason reason() {
    return reason;
  }

  static ArrowChunkException malformed(String message) {
    return new ArrowChunkException(Reason.MALFORMED, message);
  }

  static ArrowChunkException limit(String message) {
    return new ArrowChunkException(Reason.LIMIT_EXCEEDED, message);
  }
}
