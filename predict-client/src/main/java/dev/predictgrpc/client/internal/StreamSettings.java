/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

/** How a client streams: chunk size and resume behaviour. Immutable, thread-safe. */
public final class StreamSettings {
  private final int maxChunkBytes;
  private final int resumeAttempts;
  private final long maxReplayBytes;

  /**
   * @param maxChunkBytes the largest chunk to send
   * @param resumeAttempts how often a stream may resume on another call; 0 turns resume off
   * @param maxReplayBytes the most bytes of unanswered batches kept for a resume
   */
  public StreamSettings(int maxChunkBytes, int resumeAttempts, long maxReplayBytes) {
    this.maxChunkBytes = maxChunkBytes;
    this.resumeAttempts = resumeAttempts;
    this.maxReplayBytes = maxReplayBytes;
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
}
