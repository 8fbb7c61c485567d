/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.IpcCompression;

/** How a client streams: chunk size, resume behaviour, compression. Immutable, thread-safe. */
public final class StreamSettings {
  /** How often a stream may resume unless the client is told otherwise. */
  public static final int DEFAULT_RESUME_ATTEMPTS = 3;

  /** The replay buffer's size unless the client is told otherwise. */
  public static final long DEFAULT_MAX_REPLAY_BYTES = 64L << 20;

  private static final StreamSettings DEFAULTS =
      new StreamSettings(
          ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES,
          DEFAULT_RESUME_ATTEMPTS,
          DEFAULT_MAX_REPLAY_BYTES);

  private final int maxChunkBytes;
  private final int resumeAttempts;
  private final long maxReplayBytes;
  private final IpcCompression inputCompression;
  private final IpcCompression outputCompression;

  /** Settings without compression. */
  public StreamSettings(int maxChunkBytes, int resumeAttempts, long maxReplayBytes) {
    this(
        maxChunkBytes, resumeAttempts, maxReplayBytes, IpcCompression.NONE, IpcCompression.NONE);
  }

  /**
   * @param maxChunkBytes the largest chunk to send
   * @param resumeAttempts how often a stream may resume on another call; 0 turns resume off
   * @param maxReplayBytes the most bytes of unanswered batches kept for a resume
   * @param inputCompression how the bodies of the batches sent are compressed
   * @param outputCompression how the server is asked to compress the results' bodies
   */
  public StreamSettings(
      int maxChunkBytes,
      int resumeAttempts,
      long maxReplayBytes,
      IpcCompression inputCompression,
      IpcCompression outputCompression) {
    this.maxChunkBytes = maxChunkBytes;
    this.resumeAttempts = resumeAttempts;
    this.maxReplayBytes = maxReplayBytes;
    this.inputCompression = requireNonNull(inputCompression, "inputCompression");
    this.outputCompression = requireNonNull(outputCompression, "outputCompression");
  }

  /** The settings of a client built without a builder. */
  public static StreamSettings defaults() {
    return DEFAULTS;
  }

  public int maxChunkBytes() {
    return maxChunkBytes;
  }

  public int resumeAttempts() {
    return resumeAttempts;
  }

  public long maxReplayBytes() {
    return maxReplayBytes;
  }

  public IpcCompression inputCompression() {
    return inputCompression;
  }

  public IpcCompression outputCompression() {
    return outputCompression;
  }
}
