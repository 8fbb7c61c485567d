/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import com.google.protobuf.ByteString;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The chunks a stream keeps so that a new call can pick up where a failed one stopped: the start
 * chunks (schema and dictionaries), the chunks of every batch sent but not yet answered, oldest
 * first, and the end-of-stream chunks. Only the unanswered batches count against {@link
 * StreamSettings#maxReplayBytes()}; with resume off no batch's bytes are kept.
 *
 * <p>It also gives the encoder's pooled arrays back, resume or not: a batch's arrays are released
 * once its result has arrived. By then the server has read the whole batch, and gRPC has dropped
 * every reference to its messages: a call is committed, and stops buffering messages for retries,
 * once the response headers arrive (gRFC A6), and they come before any result.
 *
 * <p>The encoder's output is recorded into whichever part is being collected ({@link
 * #collectStart}, {@link #collectBatch}, {@link #collectEnd}); each result delivered releases the
 * oldest batch.
 *
 * <p>Not thread-safe: the stream guards it with its upload lock.
 */
final class ReplayBuffer {
  /** The chunks of one part of the stream, and the actions that give their arrays back. */
  private static final class Part {
    final List<ByteString> chunks = new ArrayList<>();
    final List<Runnable> releases = new ArrayList<>();
    long bytes;

    void release() {
      releases.forEach(Runnable::run);
      releases.clear();
    }
  }

  private final boolean enabled;
  private final long maxBytes;
  private final Part start = new Part();
  private final Part end = new Part();
  private final ArrayDeque<Part> batches = new ArrayDeque<>();
  private Part collecting = new Part();
  private long bytes;

  ReplayBuffer(StreamSettings settings) {
    this.enabled = settings.resumeAttempts() > 0;
    this.maxBytes = settings.maxReplayBytes();
  }

  /** The chunks that follow are the stream's start (schema and dictionaries). */
  void collectStart() {
    collecting = start;
  }

  /** The chunks that follow, until {@link #batchSent()}, belong to one batch. */
  void collectBatch() {
    collecting = new Part();
  }

  /** The chunks that follow end the stream. */
  void collectEnd() {
    collecting = end;
  }

  /** Records a chunk about to be sent, and what gives its array back once it is answered. */
  void record(ByteString chunk, Runnable release) {
    if (enabled || collecting == start || collecting == end) {
      collecting.chunks.add(chunk);
      collecting.bytes += chunk.size();
    }
    collecting.releases.add(release);
  }

  /** The batch being collected is fully sent: keep it until its result arrives. */
  void batchSent() {
    batches.add(collecting);
    bytes += collecting.bytes;
  }

  /** The oldest unanswered batch got its result: it need never be sent again. */
  void batchAnswered() {
    Part answered = batches.poll();
    if (answered != null) {
      bytes -= answered.bytes;
      answered.release();
    }
  }

  /** Whether another batch may be sent now; always true with resume off. */
  boolean hasRoom() {
    return !enabled || bytes < maxBytes;
  }

  int unansweredBatches() {
    return batches.size();
  }

  /** Sends the start and every unanswered batch again, and the end if the input is complete. */
  void replayTo(Attempt attempt, boolean inputComplete) {
    attempt.sendAll(start.chunks);
    for (Part batch : batches) {
      attempt.sendAll(batch.chunks);
    }
    if (inputComplete) {
      attempt.sendAll(end.chunks);
    }
  }

  /**
   * Drops the unanswered batches, giving their arrays back: the stream is over, so no call will
   * send them again.
   */
  void clear() {
    for (Part batch = batches.poll(); batch != null; batch = batches.poll()) {
      batch.release();
    }
    bytes = 0;
    start.release();
    end.release();
  }
}
