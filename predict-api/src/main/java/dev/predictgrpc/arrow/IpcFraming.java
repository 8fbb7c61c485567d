/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.nio.ByteBuffer;
import org.apache.arrow.vector.ipc.message.MessageSerializer;

/**
 * The framing of encapsulated IPC messages, written as {@code MessageSerializer} writes it with
 * the default options: a continuation marker, the metadata length padded so that the body starts
 * at a multiple of 8, the flatbuffer, the padding. Stateless and thread-safe.
 */
final class IpcFraming {
  /** IPC messages start, and their bodies and buffers are padded to, multiples of this. */
  static final int ALIGNMENT = 8;

  /** The continuation marker and the metadata length. */
  private static final int PREFIX_BYTES = 8;

  private IpcFraming() {}

  /**
   * Writes a message's prefix (continuation marker, padded metadata length) and its flatbuffer
   * {@code metadata}, then pads so that the body starts at a multiple of {@link #ALIGNMENT}. {@code
   * out}'s position must be such a multiple.
   */
  static void writePrefixAndMetadata(ChunkingChannel out, ByteBuffer metadata) {
    int metadataBytes = metadata.remaining();
    // The length written covers the padding, so that the body starts aligned.
    int padding = paddingAfter(out.position() + PREFIX_BYTES + metadataBytes);
    out.writeIntLittleEndian(MessageSerializer.IPC_CONTINUATION_TOKEN);
    out.writeIntLittleEndian(metadataBytes + padding);
    out.write(metadata);
    out.writeZeros(padding);
  }

  /** Writes the end-of-stream marker: a continuation marker and a zero metadata length. */
  static void writeEndOfStream(ChunkingChannel out) {
    out.writeIntLittleEndian(MessageSerializer.IPC_CONTINUATION_TOKEN);
    out.writeIntLittleEndian(0);
  }

  private static int paddingAfter(long position) {
    int misalignment = (int) (position % ALIGNMENT);
    return misalignment == 0 ? 0 : ALIGNMENT - misalignment;
  }
}
