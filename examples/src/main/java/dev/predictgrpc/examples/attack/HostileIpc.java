/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.flatbuffers.Table;
import com.google.protobuf.ByteString;
import dev.predictgrpc.examples.attack.IpcWriter.BatchHeader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The input a hostile client sends: Arrow IPC bytes that are valid, truncated, or that declare far
 * more than they carry. Each method documents what the bytes claim and what they really hold. Holds
 * no state; safe from any thread.
 */
public final class HostileIpc {
  /** One nullable int32 column, {@code x}. */
  public static final Schema INT_SCHEMA = intSchema(1);

  private HostileIpc() {}

  /** {@code columns} nullable int32 columns named {@code c0}, {@code c1}, ... ({@code x} for 1). */
  public static Schema intSchema(int columns) {
    List<Field> fields = new ArrayList<>(columns);
    for (int i = 0; i < columns; i++) {
      fields.add(Field.nullable(columns == 1 ? "x" : "c" + i, new ArrowType.Int(32, true)));
    }
    return new Schema(fields);
  }

  /** A complete, valid stream: one int32 column, one batch of {@code rows} rows, the end marker. */
  public static ByteString validIntStream(int rows) {
    BatchHeader header = BatchHeader.rows(rows);
    long bodyLength = header.int32Column(rows, 0);
    ByteBuffer body = ByteBuffer.allocate((int) bodyLength).order(ByteOrder.LITTLE_ENDIAN);
    for (int r = 0; r < rows; r++) {
      body.putInt(r);
    }
    body.clear();
    return IpcWriter.concat(
        List.of(
            IpcWriter.schema(INT_SCHEMA),
            header.frame(ByteString.copyFrom(body)),
            IpcWriter.END_OF_STREAM));
  }

  /**
   * The schema and a record batch header announcing an honest int32 batch of {@code rows} rows
   * ({@code 4 * rows} bytes of body), but none of its body: the sender decides how much of the body
   * follows, if any. The body-reservation attack sends a few hundred bytes and goes quiet.
   */
  public static ByteString announcedBody(long rows) {
    return announcedBody(1, rows);
  }

  /**
   * As {@link #announcedBody(long)}, with {@code columns} int32 columns: 4 columns of 3.9M rows
   * announce a 62 MB body, just under the default {@code maxMessageBytes} and {@code maxBatchRows}.
   */
  public static ByteString announcedBody(int columns, long rows) {
    BatchHeader header = BatchHeader.rows(rows);
    long offset = 0;
    for (int c = 0; c < columns; c++) {
      offset = header.int32Column(rows, offset);
    }
    return IpcWriter.schema(intSchema(columns)).concat(header.frameWithoutBody());
  }

  /**
   * A stream of {@code columns} int32 columns whose batch declares {@code batchRows} rows and
   * {@code nodeRows} values in every column, yet carries 8 values (32 bytes) per column and no
   * validity bitmap. Arrow sizes the bitmaps it adds from the declared counts, so 2^31-1 values
   * would ask for 256 MiB per column.
   */
  public static ByteString rowsDeclared(int columns, long batchRows, long nodeRows) {
    BatchHeader header = BatchHeader.rows(batchRows);
    long offset = 0;
    for (int c = 0; c < columns; c++) {
      header.node(nodeRows, 0).buffer(offset, 0).buffer(offset, 32);
      offset += 32;
    }
    return IpcWriter.concat(
        List.of(
            IpcWriter.schema(intSchema(columns)),
            header.frame(IpcWriter.zeros((int) offset)),
            IpcWriter.END_OF_STREAM));
  }

  /** {@code columns} struct columns without children: each holds only a validity bitmap. */
  public static Schema emptyStructSchema(int columns) {
    List<Field> fields = new ArrayList<>(columns);
    for (int i = 0; i < columns; i++) {
      fields.add(new Field("s" + i, FieldType.nullable(ArrowType.Struct.INSTANCE), List.of()));
    }
    return new Schema(fields);
  }

  /**
   * A stream of {@code columns} empty struct columns whose batch declares {@code rows} rows and
   * carries nothing at all: no validity bitmap, an empty body. Each column would make Arrow
   * allocate a bitmap of {@code rows / 8} bytes, so 16 bytes of header per column turn into 512 KiB
   * at 4M rows.
   */
  public static ByteString emptyStructs(int columns, long rows) {
    BatchHeader header = BatchHeader.rows(rows);
    for (int c = 0; c < columns; c++) {
      header.node(rows, 0).buffer(0, 0);
    }
    return IpcWriter.concat(
        List.of(
            IpcWriter.schema(emptyStructSchema(columns)),
            header.frameWithoutBody(),
            IpcWriter.END_OF_STREAM));
  }

  /**
   * A one-column int32 stream whose batch header really lists {@code buffers} buffers (16 bytes
   * each in the metadata) where the schema needs 2.
   */
  public static ByteString buffersListed(int buffers) {
    BatchHeader header = BatchHeader.rows(8).node(8, 0);
    for (int i = 0; i < buffers; i++) {
      header.buffer(0, i == 1 ? 32 : 0);
    }
    return IpcWriter.concat(
        List.of(
            IpcWriter.schema(INT_SCHEMA),
            header.frame(IpcWriter.zeros(32)),
            IpcWriter.END_OF_STREAM));
  }

  /**
   * A one-column int32 stream whose batch header holds 2 buffers but whose buffer vector's length
   * word claims {@code claimed}: a reader that slices before comparing the count with the schema
   * walks far past the metadata.
   */
  public static ByteString bufferCountClaimed(int claimed) {
    BatchHeader header = BatchHeader.rows(8);
    header.int32Column(8, 0);
    ByteBuffer metadata = copy(header.metadata());
    FlatbufPositions positions = new FlatbufPositions(metadata);
    // Message.header is field 2 of Message; RecordBatch.buffers is field 2 of RecordBatch.
    int batch = positions.tableField(positions.root(), 2);
    metadata.putInt(positions.vectorLengthWord(batch, 2), claimed);
    return IpcWriter.concat(
        List.of(
            IpcWriter.schema(INT_SCHEMA),
            IpcWriter.frame(metadata, IpcWriter.zeros(32)),
            IpcWriter.END_OF_STREAM));
  }

  /** A one-column int32 stream whose batch declares a body of {@code bodyLength} bytes. */
  public static ByteString bodyLengthDeclared(long bodyLength) {
    BatchHeader header = BatchHeader.rows(8);
    header.int32Column(8, 0);
    header.bodyLength(bodyLength);
    return IpcWriter.concat(
        List.of(IpcWriter.schema(INT_SCHEMA), header.frame(IpcWriter.zeros(32))));
  }

  /**
   * A valid stream of {@code batches} one-row int32 batches: about 170 bytes each, so an echo's
   * answer grows with the request's message count, not its rows.
   */
  public static ByteString oneRowBatches(int batches) {
    List<ByteString> parts = new ArrayList<>(batches + 2);
    parts.add(IpcWriter.schema(INT_SCHEMA));
    BatchHeader header = BatchHeader.rows(1);
    header.int32Column(1, 0);
    ByteString batch = header.frame(IpcWriter.zeros(8));
    for (int i = 0; i < batches; i++) {
      parts.add(batch);
    }
    parts.add(IpcWriter.END_OF_STREAM);
    return IpcWriter.concat(parts);
  }

  /**
   * A stream with a schema and no batch: column {@code x} (float32, as {@link AttackModels}' typed
   * model wants) plus {@code extra} float32 columns with names {@code nameLength} characters long.
   */
  public static ByteString extraColumns(int extra, int nameLength) {
    FieldType float32 =
        FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));
    List<Field> fields = new ArrayList<>(extra + 1);
    fields.add(new Field("x", float32, null));
    String pad = "e".repeat(Math.max(0, nameLength - 8));
    for (int i = 0; i < extra; i++) {
      fields.add(new Field(pad + String.format("%08d", i), float32, null));
    }
    return IpcWriter.schema(new Schema(fields)).concat(IpcWriter.END_OF_STREAM);
  }

  /** A real Arrow IPC <em>file</em> (magic {@code ARROW1}, footer) of one int32 batch. */
  public static ByteString arrowFile() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (BufferAllocator allocator = new RootAllocator();
        VectorSchemaRoot root = VectorSchemaRoot.create(INT_SCHEMA, allocator);
        ArrowFileWriter writer = new ArrowFileWriter(root, null, Channels.newChannel(out))) {
      IntVector x = (IntVector) root.getVector(0);
      x.allocateNew(3);
      for (int i = 0; i < 3; i++) {
        x.set(i, i);
      }
      root.setRowCount(3);
      writer.start();
      writer.writeBatch();
      writer.end();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ByteString.copyFrom(out.toByteArray());
  }

  /** JSON text, what a client that mistook the API for a REST one would send. */
  public static ByteString jsonText() {
    return ByteString.copyFrom(
        "{\"inputs\": [{\"x\": 1.0}, {\"x\": 2.0}]}", StandardCharsets.UTF_8);
  }

  private static ByteBuffer copy(ByteBuffer buffer) {
    ByteBuffer copy = ByteBuffer.allocate(buffer.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    copy.put(buffer.duplicate()).flip();
    return copy;
  }

  /**
   * Finds absolute positions in a finished flatbuffer, so that a message can be patched in place:
   * the generated Arrow classes have no mutators, and their positions are protected.
   */
  private static final class FlatbufPositions extends Table {
    FlatbufPositions(ByteBuffer buffer) {
      bb = buffer;
    }

    /** The root table's position. */
    int root() {
      return bb.getInt(0);
    }

    /** The position of the table field {@code slot} of the table at {@code table} refers to. */
    int tableField(int table, int slot) {
      __reset(table, bb);
      int offset = __offset(4 + 2 * slot);
      return __indirect(table + offset);
    }

    /** The position of the length word of the vector in field {@code slot} of {@code table}. */
    int vectorLengthWord(int table, int slot) {
      __reset(table, bb);
      return __vector(__offset(4 + 2 * slot)) - 4;
    }
  }
}
