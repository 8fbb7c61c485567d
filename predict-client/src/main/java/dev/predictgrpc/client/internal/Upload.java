/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.ChunkPool;
import dev.predictgrpc.arrow.IpcCompression;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * What a stream has sent: encodes input batches into chunks, sends them on an {@link Attempt}, and
 * keeps in a {@link ReplayBuffer} what a new attempt must be sent again after a resume.
 *
 * <p>Not thread-safe: this is the stream's upload state, and every method must be called holding
 * the stream's upload lock. That lock is also what serializes sends on the attempt, and it makes
 * the attempt passed in the current one for as long as a method runs.
 */
final class Upload {
  /**
   * Idle arrays a stream's pool has room for beyond those of its replay buffer: a batch in the
   * making. The pool is sized to take back every array of the unanswered batches the replay buffer
   * allows (64 at the defaults) plus these.
   *
   * <p>Why not a handful: results come back in bursts, each answered batch gives back all its
   * arrays at once, and a pool of 8 dropped the rest and allocated them afresh a moment later.
   * Measured on the benchmark's 1.28 GB stream, that was 16 MB of new 1 MiB arrays on the client,
   * which the garbage collector answered by growing the heap. A stream's pool only ever holds
   * arrays it handed out itself, so it never holds more than the stream had in flight at once;
   * {@link #clear()} empties it when the stream closes.
   */
  private static final int BATCH_IN_THE_MAKING_ARRAYS = 8;

  /** The most idle arrays a stream's pool keeps, whatever its replay budget. */
  private static final int MAX_IDLE_CHUNK_ARRAYS = 256;

  private final StreamSettings settings;
  /** The call's allocator: holds the compressed copies of a batch while it is encoded. */
  private final BufferAllocator allocator;
  private final ReplayBuffer replay;
  /** Recycles this stream's chunk arrays; see {@link ReplayBuffer} for when they come back. */
  private final ChunkPool chunkArrays;
  private @Nullable ArrowChunkEncoder encoder;
  /** The attempt the encoder's chunks go to: the one passed to the method running now. */
  private @Nullable Attempt target;
  private long batchesSent;
  private boolean inputComplete;

  Upload(StreamSettings settings, BufferAllocator allocator) {
    this.settings = settings;
    this.allocator = allocator;
    this.replay = new ReplayBuffer(settings);
    this.chunkArrays = ChunkPool.create(settings.maxChunkBytes(), idleChunkArrays(settings));
  }

  /** Room for every array of the batches the replay buffer may hold, plus a batch in the making. */
  static int idleChunkArrays(StreamSettings settings) {
    long replayArrays = settings.maxReplayBytes() / settings.maxChunkBytes();
    return (int) Math.min(MAX_IDLE_CHUNK_ARRAYS, replayArrays + BATCH_IN_THE_MAKING_ARRAYS);
  }

  /**
   * Encodes {@code batch} and sends its chunks on {@code to}, preceded on the first batch by the
   * schema and dictionaries. The caller retains ownership of {@code batch}; it is not retained.
   */
  void write(Attempt to, VectorSchemaRoot batch, @Nullable DictionaryProvider dictionaries) {
    target = to;
    if (encoder == null) {
      encoder =
          ArrowChunkEncoder.create(
              batch.getSchema(), dictionaries, settings.maxChunkBytes(), chunkArrays, this::emit);
      if (settings.inputCompression() != IpcCompression.NONE) {
        encoder.compression(settings.inputCompression(), allocator);
      }
      replay.collectStart();
      encoder.writeStart();
    }
    replay.collectBatch();
    encoder.writeBatch(batch);
    replay.batchSent();
    batchesSent++;
  }

  /** Ends the input on {@code to}: the end-of-stream chunks, then half-close. */
  void complete(Attempt to) {
    target = to;
    to.sendHeaderOnce();
    if (encoder != null) {
      replay.collectEnd();
      encoder.end();
    }
    // With no batch there is no schema to send: a stream of no chunks is a valid "no input", and
    // the server answers with an empty output.
    inputComplete = true;
    to.requests.onCompleted();
  }

  /**
   * Sends {@code to}, a new attempt, everything the server needs to carry on: the header, the
   * schema, every unanswered batch and, if the input is complete, its end.
   */
  void resendOn(Attempt to) {
    to.sendHeaderOnce();
    if (encoder != null) {
      replay.replayTo(to, inputComplete);
    }
    if (inputComplete) {
      to.requests.onCompleted();
    }
  }

  /** The oldest unanswered batch got its result; frees its replay space. */
  void batchAnswered() {
    replay.batchAnswered();
  }

  /** Whether the replay buffer can take another batch. */
  boolean hasRoom() {
    return replay.hasRoom();
  }

  boolean inputComplete() {
    return inputComplete;
  }

  long batchesSent() {
    return batchesSent;
  }

  int unansweredBatches() {
    return replay.unansweredBatches();
  }

  /**
   * Drops what was kept for a resume and the pool's idle arrays; the stream is closing, and its
   * caller may hold on to it long after.
   */
  void clear() {
    replay.clear();
    // The encoder may still hold one array it was filling; that one goes with the stream.
    chunkArrays.clear();
  }

  /** The encoder's sink: records the chunk for replay and sends it on the current attempt. */
  private void emit(ByteString chunk, Runnable release) {
    replay.record(chunk, release);
    target.send(chunk);
  }
}
