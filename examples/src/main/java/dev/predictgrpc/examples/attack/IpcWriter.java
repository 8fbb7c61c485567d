/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.flatbuffers.FlatBufferBuilder;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes Arrow IPC stream messages by hand, so that a record batch header can declare whatever an
 * attacker likes (row counts, field nodes, buffers, body length) independently of the bytes that
 * follow it. Arrow's own writers only ever produce consistent messages, which is exactly what a
 * hostile client does not send.
 *
 * <p>Every method returns fresh immutable bytes; the class holds no state and is safe from any
 * thread.
 */
public final class IpcWriter {
  /** The end-of-stream marker: the continuation token, then a metadata length of 0. */
  public static final ByteString END_OF_STREAM =
      ByteString.copyFrom(new byte[] {-1, -1, -1, -1, 0, 0, 0, 0});

  private IpcWriter() {}

  /** A framed Schema message, as Arrow's own serializer writes it. */
  public static ByteString schema(Schema schema) {
    return frame(MessageSerializer.serializeMetadata(schema, IpcOption.DEFAULT), ByteString.EMPTY);
  }

  /**
   * Frames a message: the continuation token, the metadata length (padded so the body starts on an
   * 8-byte boundary), the metadata and its padding, then {@code body} as given. The body need not
   * be as long as the metadata declares; that is the point of writing messages by hand.
   */
  public static ByteString frame(ByteBuffer metadata, ByteString body) {
    int length = metadata.remaining();
    int padded = (length + 7) & ~7;
    ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putInt(-1).putInt(padded).flip();
    return ByteString.copyFrom(prefix)
        .concat(ByteString.copyFrom(metadata.duplicate()))
        .concat(ByteString.copyFrom(new byte[padded - length]))
        .concat(body);
  }

  /** Only the 8-byte prefix of a message: the continuation token and a metadata length. */
  public static ByteString prefix(int metadataLength) {
    ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putInt(-1).putInt(metadataLength).flip();
    return ByteString.copyFrom(prefix);
  }

  /** The concatenation of {@code parts}, without copying them. */
  public static ByteString concat(List<ByteString> parts) {
    return ByteString.copyFrom(parts);
  }

  /** {@code n} zero bytes. */
  public static ByteString zeros(int n) {
    return ByteString.copyFrom(new byte[n]);
  }

  /**
   * The header of one record batch, declared field by field. Nothing is checked: nodes, buffers and
   * the body length are written exactly as given. Not thread-safe; build, then frame.
   */
  public static final class BatchHeader {
    private final long rows;
    private final List<long[]> nodes = new ArrayList<>();
    private final List<long[]> buffers = new ArrayList<>();
    private long bodyLength = -1;

    private BatchHeader(long rows) {
      this.rows = rows;
    }

    /** A batch header declaring {@code rows} rows (RecordBatch.length). */
    public static BatchHeader rows(long rows) {
      return new BatchHeader(rows);
    }

    /** Adds a field node: a column (or nested child) of {@code length} values. */
    public BatchHeader node(long length, long nullCount) {
      nodes.add(new long[] {length, nullCount});
      return this;
    }

    /** Adds a buffer at {@code offset} in the body, {@code length} bytes long. */
    public BatchHeader buffer(long offset, long length) {
      buffers.add(new long[] {offset, length});
      return this;
    }

    /**
     * Adds one int32 column of {@code length} values without nulls: a node, an absent validity
     * buffer (allowed when there are no nulls) and a data buffer at {@code offset}.
     *
     * @return the body offset after this column's data, 8-byte aligned
     */
    public long int32Column(long length, long offset) {
      node(length, 0);
      buffer(offset, 0);
      buffer(offset, length * 4);
      return offset + ((length * 4 + 7) & ~7L);
    }

    /** The body length to declare. Default: the end of the furthest buffer, rounded up to 8. */
    public BatchHeader bodyLength(long bodyLength) {
      this.bodyLength = bodyLength;
      return this;
    }

    /** The body length this header declares. */
    public long declaredBodyLength() {
      if (bodyLength >= 0) {
        return bodyLength;
      }
      long end = 0;
      for (long[] buffer : buffers) {
        end = Math.max(end, buffer[0] + buffer[1]);
      }
      return (end + 7) & ~7L;
    }

    /** The Message flatbuffer (metadata) of this header. */
    public ByteBuffer metadata() {
      FlatBufferBuilder builder = new FlatBufferBuilder(64 + 16 * (nodes.size() + buffers.size()));
      // Vectors of structs are written back to front.
      RecordBatch.startNodesVector(builder, nodes.size());
      for (int i = nodes.size() - 1; i >= 0; i--) {
        FieldNode.createFieldNode(builder, nodes.get(i)[0], nodes.get(i)[1]);
      }
      int nodesVector = builder.endVector();
      RecordBatch.startBuffersVector(builder, buffers.size());
      for (int i = buffers.size() - 1; i >= 0; i--) {
        Buffer.createBuffer(builder, buffers.get(i)[0], buffers.get(i)[1]);
      }
      int buffersVector = builder.endVector();
      RecordBatch.startRecordBatch(builder);
      RecordBatch.addLength(builder, rows);
      RecordBatch.addNodes(builder, nodesVector);
      RecordBatch.addBuffers(builder, buffersVector);
      int batch = RecordBatch.endRecordBatch(builder);
      int message =
          Message.createMessage(
              builder,
              MetadataVersion.V5,
              MessageHeader.RecordBatch,
              batch,
              declaredBodyLength(),
              0);
      builder.finish(message);
      return builder.dataBuffer();
    }

    /** The framed message with {@code body}, whatever length it has. */
    public ByteString frame(ByteString body) {
      return IpcWriter.frame(metadata(), body);
    }

    /** The framed message without its body: the declared body is the sender's to send, or not. */
    public ByteString frameWithoutBody() {
      return frame(ByteString.EMPTY);
    }
  }
}
