/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.flatbuffers.Table;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntConsumer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.jspecify.annotations.Nullable;

/** Byte-level helpers for tests: split Arrow IPC streams into messages, re-cut and patch them. */
final class IpcBytes {
  /** The end-of-stream marker: continuation token, then metadata length 0. */
  static final ByteString END_OF_STREAM =
      ByteString.copyFrom(new byte[] {-1, -1, -1, -1, 0, 0, 0, 0});

  // Field slots (vtable order) in Arrow's Message.fbs and Schema.fbs.
  static final int MESSAGE_HEADER = 2;
  static final int MESSAGE_BODY_LENGTH = 3;
  static final int SCHEMA_FIELDS = 1;
  static final int FIELD_CHILDREN = 5;
  static final int RECORD_BATCH_LENGTH = 0;
  static final int RECORD_BATCH_NODES = 1;
  static final int RECORD_BATCH_BUFFERS = 2;

  private IpcBytes() {}

  /** Receives each decoded batch while it is the decoder's current root. */
  interface BatchCheck {
    void check(ArrowChunkDecoder decoder, int index);
  }

  /** Encodes batches with an {@link ArrowChunkEncoder}, remembering where each batch ended. */
  static final class Encoded {
    final List<ByteString> chunks = new ArrayList<>();

    /** chunkEnds.get(i): the number of chunks emitted once writeBatch(i) returned. */
    final List<Integer> chunkEnds = new ArrayList<>();

    ByteString stream() {
      return ArrowChunkEncoder.concat(chunks);
    }
  }

  /**
   * Decodes {@code chunks} with a default decoder, then calls {@code finish()}; returns batches.
   */
  static int decodeAll(BufferAllocator allocator, List<ByteString> chunks, BatchCheck check) {
    return decodeAll(ArrowChunkDecoder.builder(allocator), chunks, check);
  }

  static int decodeAll(
      ArrowChunkDecoder.Builder builder, List<ByteString> chunks, BatchCheck check) {
    int batches = 0;
    try (ArrowChunkDecoder decoder = builder.build()) {
      for (ByteString chunk : chunks) {
        decoder.append(chunk);
        while (decoder.nextBatch()) {
          check.check(decoder, batches++);
        }
      }
      decoder.finish();
    }
    return batches;
  }

  /**
   * The whole stream Arrow's own {@link ArrowStreamWriter} writes for {@code batches} batches of
   * {@code root}; {@code fill} is called with the batch index before each batch is written.
   */
  static ByteString arrowStreamWriterBytes(
      VectorSchemaRoot root,
      @Nullable DictionaryProvider dictionaries,
      int batches,
      IntConsumer fill) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArrowStreamWriter writer =
        new ArrowStreamWriter(root, dictionaries, Channels.newChannel(out))) {
      writer.start();
      for (int i = 0; i < batches; i++) {
        fill.accept(i);
        writer.writeBatch();
      }
      writer.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ByteString.copyFrom(out.toByteArray());
  }

  /**
   * Splits a stream in the continuation-token format into framed messages (prefix, metadata and
   * body each); the end-of-stream marker, if present, is the last element.
   */
  static List<ByteString> messages(ByteString stream) {
    List<ByteString> result = new ArrayList<>();
    int pos = 0;
    while (pos < stream.size()) {
      if (intAt(stream, pos) != -1) {
        throw new IllegalArgumentException("no continuation token at " + pos);
      }
      int metadataLength = intAt(stream, pos + 4);
      int bodyStart = pos + 8 + metadataLength;
      long bodyLength =
          metadataLength == 0 ? 0 : message(stream.substring(pos + 8, bodyStart)).bodyLength();
      int end = bodyStart + (int) bodyLength;
      result.add(stream.substring(pos, end));
      pos = end;
    }
    return result;
  }

  /** The padded metadata (flatbuffer) of a framed message, as a fresh little-endian array. */
  static byte[] metadata(ByteString framed) {
    return framed.substring(8, 8 + intAt(framed, 4)).toByteArray();
  }

  /** The body of a framed message. */
  static ByteString body(ByteString framed) {
    return framed.substring(8 + intAt(framed, 4));
  }

  /** Frames (possibly patched) metadata and a body as one message, padding the metadata to 8. */
  static ByteString frame(ByteBuffer metadata, ByteString body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      MessageSerializer.writeMessageBuffer(
          new WriteChannel(Channels.newChannel(out)),
          metadata.remaining(),
          metadata.duplicate(),
          IpcOption.DEFAULT);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ByteString.copyFrom(out.toByteArray()).concat(body);
  }

  static ByteString frame(byte[] metadata, ByteString body) {
    return frame(ByteBuffer.wrap(metadata), body);
  }

  /** The parsed metadata of a message. */
  static Message message(ByteString metadata) {
    return Message.getRootAsMessage(
        ByteBuffer.wrap(metadata.toByteArray()).order(ByteOrder.LITTLE_ENDIAN));
  }

  static ByteString concat(List<ByteString> parts) {
    return ArrowChunkEncoder.concat(parts);
  }

  /** Cuts {@code stream} into chunks of {@code size} bytes (the last may be shorter). */
  static List<ByteString> cut(ByteString stream, int size) {
    List<ByteString> chunks = new ArrayList<>();
    for (int pos = 0; pos < stream.size(); pos += size) {
      chunks.add(stream.substring(pos, Math.min(stream.size(), pos + size)));
    }
    return chunks;
  }

  /** Cuts {@code stream} into chunks of random sizes in [1, maxSize]; some empty ones included. */
  static List<ByteString> cutRandomly(ByteString stream, Random random, int maxSize) {
    List<ByteString> chunks = new ArrayList<>();
    int pos = 0;
    while (pos < stream.size()) {
      if (random.nextInt(20) == 0) {
        chunks.add(ByteString.EMPTY); // Empty chunks must be harmless.
      }
      int size = 1 + random.nextInt(maxSize);
      chunks.add(stream.substring(pos, Math.min(stream.size(), pos + size)));
      pos += size;
    }
    return chunks;
  }

  /** Cuts {@code stream} in two at {@code position}. */
  static List<ByteString> cutAt(ByteString stream, int position) {
    return List.of(stream.substring(0, position), stream.substring(position));
  }

  static ByteString prefix(int metadataLength) {
    return ByteString.copyFrom(
        ByteBuffer.allocate(8)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(-1)
            .putInt(metadataLength)
            .array());
  }

  private static int intAt(ByteString bytes, int pos) {
    return (bytes.byteAt(pos) & 0xFF)
        | (bytes.byteAt(pos + 1) & 0xFF) << 8
        | (bytes.byteAt(pos + 2) & 0xFF) << 16
        | (bytes.byteAt(pos + 3) & 0xFF) << 24;
  }

  /**
   * Finds absolute positions inside a flatbuffer so a test can patch metadata in place: the
   * generated Arrow classes have no mutators, and their positions are protected.
   */
  static final class Flatbuf extends Table {
    Flatbuf(byte[] bytes) {
      this.bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    ByteBuffer buffer() {
      return bb;
    }

    /** Position of the root table (the Message). */
    int root() {
      return bb.getInt(0);
    }

    /** Position of scalar field {@code slot} of the table at {@code table}; -1 if absent. */
    int field(int table, int slot) {
      __reset(table, bb);
      int offset = __offset(4 + 2 * slot);
      return offset == 0 ? -1 : table + offset;
    }

    /** Position of the table that field {@code slot} of {@code table} refers to. */
    int table(int table, int slot) {
      int pos = field(table, slot);
      return pos + bb.getInt(pos);
    }

    /** Position of the length word of the vector in field {@code slot}; elements follow it. */
    int vector(int table, int slot) {
      int pos = field(table, slot);
      return pos + bb.getInt(pos);
    }

    /** Position of element {@code i} of a vector of {@code size}-byte elements. */
    int element(int table, int slot, int i, int size) {
      return vector(table, slot) + 4 + i * size;
    }

    /** Position of the table that element {@code i} of a vector of tables refers to. */
    int tableElement(int table, int slot, int i) {
      int pos = element(table, slot, i, 4);
      return pos + bb.getInt(pos);
    }
  }
}
