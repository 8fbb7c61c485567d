/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;

/**
 * Receives the chunks an {@link ArrowChunkEncoder} cuts from an Arrow IPC stream.
 *
 * <p>Each chunk is a fresh, immutable {@link ByteString} that the sink may keep for as long as it
 * likes; the encoder never writes to it again. Chunks arrive in stream order on the thread that
 * called the encoder.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface ChunkSink {
  /** Accepts the next chunk of the stream; it is never empty. */
  void accept(ByteString chunk);
}
