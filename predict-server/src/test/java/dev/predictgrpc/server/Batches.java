/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/** Builds Arrow IPC input the way any client library would, and decodes what the server sends. */
final class Batches {
  private Batches() {}

  /** The value of row {@code row} of batch {@code batch} in the streams built here. */
  static float value(int batch, int row) {
    return batch * 1000 + row;
  }

  /**
   * An Arrow IPC stream with one float32 column {@code x}, one record batch per entry of {@code
   * rowCounts}, values {@link #value}, and the end-of-stream marker.
   */
  static ByteString xStream(BufferAllocator allocator, int... rowCounts) {
    return floatStream(allocator, true, rowCounts, "x");
  }

  /**
   * An Arrow IPC stream of float32 columns named {@code names}; column c of batch b row i holds
   * {@code value(b, i) + c * 0.5}.
   */
  static ByteString floatStream(
      BufferAllocator allocator, boolean endOfStream, int[] rowCounts, String... names) {
    Schema schema = TestModel.floatSchema(true, names);
    List<ByteString> parts = new ArrayList<>();
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator)) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(
              schema, null, ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES, parts::add);
      for (int b = 0; b < rowCounts.length; b++) {
        int rows = rowCounts[b];
        root.allocateNew();
        for (int c = 0; c < names.length; c++) {
          Float4Vector v = (Float4Vector) root.getVector(c);
          for (int i = 0; i < rows; i++) {
            v.setSafe(i, value(b, i) + c * 0.5f);
          }
          v.setValueCount(rows);
        }
        root.setRowCount(rows);
        encoder.writeBatch(root);
      }
      if (endOfStream) {
        encoder.end();
      }
    }
    return concat(parts);
  }

  /** Encodes {@code root} as a whole stream; the caller retains ownership of {@code root}. */
  static ByteString stream(VectorSchemaRoot root) {
    return ArrowChunkEncoder.encodeStream(root, null);
  }

  static ByteString concat(List<ByteString> parts) {
    ByteString out = ByteString.EMPTY;
    for (ByteString part : parts) {
      out = out.concat(part);
    }
    return out;
  }

  /** Cuts {@code bytes} into chunks of {@code size} bytes (the last may be shorter). */
  static List<ByteString> split(ByteString bytes, int size) {
    List<ByteString> chunks = new ArrayList<>();
    for (int i = 0; i < bytes.size(); i += size) {
      chunks.add(bytes.substring(i, Math.min(bytes.size(), i + size)));
    }
    return chunks;
  }

  /** One decoded record batch: its row count and its columns' values as Java objects. */
  record Batch(int rowCount, Map<String, List<@Nullable Object>> columns) {
    List<@Nullable Object> column(String name) {
      assertThat(columns).containsKey(name);
      return columns.get(name);
    }
  }

  /** A decoded IPC stream. */
  record Decoded(Schema schema, List<Batch> batches, boolean endOfStream) {
    List<Integer> rowCounts() {
      return batches.stream().map(Batch::rowCount).toList();
    }
  }

  /** Decodes a complete IPC stream, checking it ends at a message boundary. */
  static Decoded decode(BufferAllocator allocator, List<ByteString> chunks) {
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(allocator).build()) {
      List<Batch> batches = new ArrayList<>();
      for (ByteString chunk : chunks) {
        decoder.append(chunk);
        while (decoder.nextBatch()) {
          batches.add(snapshot(decoder.root()));
        }
      }
      decoder.finish();
      return new Decoded(decoder.schema(), batches, decoder.isEndOfStream());
    }
  }

  static Decoded decode(BufferAllocator allocator, ByteString stream) {
    return decode(allocator, List.of(stream));
  }

  private static Batch snapshot(VectorSchemaRoot root) {
    Map<String, List<@Nullable Object>> columns = new LinkedHashMap<>();
    for (FieldVector vector : root.getFieldVectors()) {
      List<@Nullable Object> values = new ArrayList<>(root.getRowCount());
      for (int i = 0; i < root.getRowCount(); i++) {
        values.add(vector.getObject(i));
      }
      columns.put(vector.getName(), values);
    }
    return new Batch(root.getRowCount(), columns);
  }
}
