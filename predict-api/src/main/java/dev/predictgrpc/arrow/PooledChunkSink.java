/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;

/**
 * Receives the chunks an {@link ArrowChunkEncoder} cuts into arrays from a {@link ChunkPool}.
 *
 * <p>Unlike a {@link ChunkSink}'s chunks, these are only lent: the chunk's array goes back to the
 * pool, to be overwritten by a later chunk, when {@code release} runs. The sink must run {@code
 * release} exactly once, after the last read of the chunk's bytes (for gRPC: once the message
 * stream holding it has been written out and closed), and must not let the {@code ByteString}
 * escape to code that may read it later. A release that never runs is not a leak, only a lost
 * reuse: the array is then collected as garbage. Chunks arrive in stream order on the thread that
 * called the encoder.
 *
 * @since 0.2
 */
@FunctionalInterface
public interface PooledChunkSink {
  /** Accepts the next chunk of the stream, never empty, and the action that gives it back. */
  void accept(ByteString chunk, Runnable release);
}
