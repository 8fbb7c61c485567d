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
 * StreamSettings#maxReplayBytes()}; with resume off no batch is kept.
 *
 * <p>The encoder's output is recorded into whichever part is being collected ({@link
 * #collectStart}, {@link #collectBatch}, {@link #collectEnd}); each result delivered releases the
 * oldest batch.
 *
 * <p>Not thread-safe: the stream guards it with its upload lock.
 */
final class ReplayBuffer {
  private final boolean enabled;
  private final long maxBytes;
  private final List<ByteString> startChunks = new ArrayList<>();
  private final List<ByteString> endChunks = new ArrayList<>();
  private final ArrayDeque<List<ByteString>> batches = new ArrayDeque<>();
  private List<ByteString> collecting = new ArrayList<>();
  private long bytes;

  ReplayBuffer(StreamSettings settings) {
    this.enabled = settings.resumeAttempts() > 0;
    this.maxBytes = settings.maxReplayBytes();
  }

  /** The chunks that follow are the stream's start (schema and dictionaries). */
  void collectStart() {
    collecting = startChunks;
  }

  /** The chunks that follow, until {@link #batchSent()}, belong to one batch. */
  void collectBatch() {
    collecting = new ArrayList<>();
  }

  /** The chunks that follow end the stream. */
  void collectEnd() {
    collecting = endChunks;
  }

  void record(ByteString chunk) {
    collecting.add(chunk);
  }

  /** The batch being collected is fully sent: keep it until its result arrives. */
  void batchSent() {
    if (enabled) {
      batches.add(collecting);
      for (ByteString chunk : collecting) {
        bytes += chunk.size();
      }
    }
  }

  /** The oldest unanswered batch got its result: it need never be sent again. */
  void batchAnswered() {
    List<ByteString> answered = batches.poll();
    if (answered != null) {
      for (ByteString chunk : answered) {
        bytes -= chunk.size();
      }
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
    attempt.sendAll(startChunks);
    for (List<ByteString> batch : batches) {
      attempt.sendAll(batch);
    }
    if (inputComplete) {
      attempt.sendAll(endChunks);
    }
  }

  /** Drops the unanswered batches; the stream will not resume again. */
  void clear() {
    batches.clear();
  }
}
