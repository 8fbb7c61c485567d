/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.flatbuffers.FlatBufferBuilder;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthViewVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.jspecify.annotations.Nullable;

/**
 * Writes uncompressed record batch messages straight from a root's vectors, byte for byte what
 * {@code VectorUnloader} and {@code MessageSerializer} write with their defaults (every buffer at
 * an 8-byte aligned offset, null counts included), without their per-batch objects: an {@code
 * ArrowRecordBatch} with its node, buffer and layout lists, a new flatbuffer builder, and a direct
 * ByteBuffer wrapper per buffer. Those made up most of the cost of encoding a one-row request.
 *
 * <p>It borrows the root's buffers only while {@link #write} runs and takes no reference on them.
 * One writer serves one encoder: it keeps its arrays and flatbuffer builder from batch to batch.
 * Not thread-safe.
 */
final class RecordBatchWriter {
  /** Metadata builders that grew beyond this (schemas of thousands of columns) are not kept. */
  private static final int MAX_KEPT_BUILDER_BYTES = 64 << 10;

  private static final long[] NONE = {};

  private final List<ArrowBuf> buffers = new ArrayList<>();
  // Sized on first use to the root's columns; nested columns grow them.
  private long[] nodeLengths = NONE;
  private long[] nodeNullCounts = NONE;
  private int nodes;
  private long[] variadicCounts = NONE;
  private int views;
  private long[] offsets = NONE;
  private long bodyLength;
  private int rows;
  private @Nullable FlatBufferBuilder builder;

  /**
   * Records {@code root}'s field nodes and buffers, depth first in schema order, and lays out the
   * body; then {@link #metadataEstimate()} and {@link #bodyLength()} describe the message that
   * {@link #write} writes. The root must not change in between.
   */
  void unload(VectorSchemaRoot root) {
    buffers.clear();
    nodes = 0;
    views = 0;
    rows = root.getRowCount();
    List<FieldVector> vectors = root.getFieldVectors();
    if (nodeLengths.length < vectors.size()) {
      nodeLengths = new long[vectors.size()];
      nodeNullCounts = new long[vectors.size()];
    }
    for (int i = 0; i < vectors.size(); i++) {
      append(vectors.get(i));
    }
    if (offsets.length < buffers.size()) {
      offsets = new long[Math.max(buffers.size(), 2 * offsets.length)];
    }
    long offset = 0;
    for (int i = 0; i < buffers.size(); i++) {
      offsets[i] = offset;
      offset = align(offset + buffers.get(i).readableBytes());
    }
    bodyLength = offset;
  }

  private void append(FieldVector vector) {
    if (nodes == nodeLengths.length) {
      nodeLengths = Arrays.copyOf(nodeLengths, Math.max(4, 2 * nodes));
      nodeNullCounts = Arrays.copyOf(nodeNullCounts, Math.max(4, 2 * nodes));
    }
    nodeLengths[nodes] = vector.getValueCount();
    nodeNullCounts[nodes] = vector.getNullCount();
    nodes++;
    if (vector instanceof BaseVariableWidthViewVector) {
      if (views == variadicCounts.length) {
        variadicCounts = Arrays.copyOf(variadicCounts, Math.max(4, 2 * views));
      }
      variadicCounts[views++] = ((BaseVariableWidthViewVector) vector).getDataBuffers().size();
    }
    // getFieldBuffers also sets each buffer's writer index to the bytes the values fill.
    buffers.addAll(vector.getFieldBuffers());
    List<FieldVector> children = vector.getChildrenFromFields();
    for (int i = 0; i < children.size(); i++) {
      append(children.get(i));
    }
  }

  /** An upper bound of the flatbuffer metadata of the batch last unloaded, prefix included. */
  long metadataEstimate() {
    // About a hundred bytes of tables, 16 per field node and per buffer, 8 per variadic count.
    return 512 + 16L * (nodes + buffers.size()) + 8L * views;
  }

  /** The body length of the batch last unloaded, padding included. */
  long bodyLength() {
    return bodyLength;
  }

  /**
   * Writes the message of the batch last unloaded to {@code out}, whose position must be a
   * multiple of 8 (every whole IPC message is).
   */
  void write(ChunkingChannel out) {
    FlatBufferBuilder metadata = builder;
    if (metadata == null) {
      // Room for the vectors of structs plus about 160 bytes of tables and vtables, so that it
      // does not grow (and copy itself) while building.
      long bytes = 160 + 16L * (nodes + buffers.size()) + 8L * views;
      metadata = new FlatBufferBuilder((int) Math.min(MAX_KEPT_BUILDER_BYTES, bytes));
      builder = metadata;
    }
    metadata.clear();
    // Flatbuffer vectors are built back to front.
    RecordBatch.startNodesVector(metadata, nodes);
    for (int i = nodes - 1; i >= 0; i--) {
      FieldNode.createFieldNode(metadata, nodeLengths[i], nodeNullCounts[i]);
    }
    int nodesOffset = metadata.endVector();
    RecordBatch.startBuffersVector(metadata, buffers.size());
    for (int i = buffers.size() - 1; i >= 0; i--) {
      Buffer.createBuffer(metadata, offsets[i], buffers.get(i).readableBytes());
    }
    int buffersOffset = metadata.endVector();
    int variadicOffset = 0;
    if (views > 0) {
      metadata.startVector(Long.BYTES, views, Long.BYTES);
      for (int i = views - 1; i >= 0; i--) {
        metadata.addLong(variadicCounts[i]);
      }
      variadicOffset = metadata.endVector();
    }
    RecordBatch.startRecordBatch(metadata);
    RecordBatch.addLength(metadata, rows);
    RecordBatch.addNodes(metadata, nodesOffset);
    RecordBatch.addBuffers(metadata, buffersOffset);
    if (views > 0) {
      RecordBatch.addVariadicBufferCounts(metadata, variadicOffset);
    }
    int batchOffset = RecordBatch.endRecordBatch(metadata);
    ByteBuffer message =
        MessageSerializer.serializeMessage(
            metadata, MessageHeader.RecordBatch, batchOffset, bodyLength, IpcOption.DEFAULT);
    IpcFraming.writePrefixAndMetadata(out, message);
    long bodyStart = out.position();
    for (int i = 0; i < buffers.size(); i++) {
      ArrowBuf buffer = buffers.get(i);
      out.writeZeros(bodyStart + offsets[i] - out.position());
      out.write(buffer, buffer.readerIndex(), buffer.readableBytes());
    }
    out.writeZeros(bodyStart + bodyLength - out.position());
    buffers.clear(); // Borrowed for this batch only.
    if (metadata.dataBuffer().capacity() > MAX_KEPT_BUILDER_BYTES) {
      builder = null;
    }
  }

  private static long align(long position) {
    return (position + IpcFraming.ALIGNMENT - 1) & -IpcFraming.ALIGNMENT;
  }
}
