/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.vector.BaseLargeVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthViewVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.ValueVectorUtility;
import org.apache.arrow.vector.validate.ValidateUtil;
import org.apache.arrow.vector.validate.ValidateVectorBufferVisitor;
import org.apache.arrow.vector.validate.ValidateVectorTypeVisitor;

/**
 * Loads the body of a record batch or dictionary batch message into vectors, checking it against
 * the flatbuffer header and the schema first.
 *
 * <p>Arrow's own {@code MessageSerializer} and {@code VectorLoader} assume well-formed input. The
 * input here is untrusted, so every buffer is bounds-checked against the body, every count against
 * the schema, and every offset is read: a hostile message fails with an {@link ArrowChunkException}
 * that names the problem, before a model can read outside a vector.
 *
 * <p>Holds no state: its methods are safe from any thread as long as the vectors and buffers passed
 * in are not shared. The caller retains ownership of every buffer and vector passed in.
 */
final class BatchLoader {
  private BatchLoader() {}

  /**
   * Builds a record batch whose buffers are slices of {@code messageBody}, checking every buffer
   * lies inside it. The batch holds its own references; the caller still owns {@code messageBody}.
   * Ownership of the returned batch passes to the caller, who must close it.
   */
  static ArrowRecordBatch toRecordBatch(
      RecordBatch header, ArrowBuf messageBody, long bodyLength, int expectedNodes, String what) {
    // Checked here so the error can say what is wrong, rather than fail somewhere in loading.
    if (header.nodesLength() != expectedNodes) {
      throw ArrowChunkException.malformed(
          what
              + " has "
              + header.nodesLength()
              + " field nodes but its schema has "
              + expectedNodes
              + " fields, nested ones included");
    }
    if (header.compression() != null) {
      throw ArrowChunkException.malformed(
          what
              + " is compressed ("
              + compressionName(header.compression().codec())
              + "); only uncompressed Arrow IPC bodies are supported");
    }
    List<ArrowFieldNode> nodes = new ArrayList<>(expectedNodes);
    FieldNode node = new FieldNode();
    for (int i = 0; i < header.nodesLength(); i++) {
      header.nodes(node, i);
      if (node.length() < 0
          || node.length() > Integer.MAX_VALUE
          || node.nullCount() < 0
          || node.nullCount() > node.length()) {
        throw ArrowChunkException.malformed(what + " has an invalid field node " + i);
      }
      nodes.add(new ArrowFieldNode(node.length(), node.nullCount()));
    }
    // Not presized: the counts come from the sender, and a huge one would be an OutOfMemoryError.
    List<ArrowBuf> buffers = new ArrayList<>();
    Buffer buffer = new Buffer();
    for (int i = 0; i < header.buffersLength(); i++) {
      header.buffers(buffer, i);
      long offset = buffer.offset();
      long length = buffer.length();
      if (offset < 0 || length < 0 || offset > bodyLength || length > bodyLength - offset) {
        throw ArrowChunkException.malformed(
            what
                + ": buffer "
                + i
                + " spans bytes ["
                + offset
                + ", "
                + (offset + length)
                + ") but the message body has "
                + bodyLength
                + " bytes");
      }
      buffers.add(messageBody.slice(offset, length));
    }
    if (header.length() > Integer.MAX_VALUE) {
      throw ArrowChunkException.malformed(what + " has more than 2^31-1 rows");
    }
    List<Long> variadicCounts = new ArrayList<>(0);
    for (int i = 0; i < header.variadicBufferCountsLength(); i++) {
      variadicCounts.add(header.variadicBufferCounts(i));
    }
    // retainBuffers=true: the batch takes its own reference on each slice.
    return new ArrowRecordBatch(
        (int) header.length(),
        nodes,
        buffers,
        NoCompressionCodec.DEFAULT_BODY_COMPRESSION,
        variadicCounts,
        true,
        true);
  }

  /**
   * Loads {@code batch} into the vectors of {@code target}, validates them, and only then sets the
   * row count.
   *
   * <p>Arrow's {@code VectorLoader} sets the row count first, which grows any vector whose buffers
   * are too small for it; for hostile sizes that growth can throw halfway through a reallocation
   * and leak the new buffers. Validated first, at the lengths their field nodes declare, the
   * vectors are big enough that setting the row count never reallocates. Validation also catches
   * buffers too small for the declared counts before a model reads past them.
   */
  static void load(VectorSchemaRoot target, ArrowRecordBatch batch, String what) {
    Iterator<ArrowFieldNode> nodes = batch.getNodes().iterator();
    Iterator<ArrowBuf> buffers = batch.getBuffers().iterator();
    Iterator<Long> variadicCounts = batch.getVariadicBufferCounts().iterator();
    for (FieldVector vector : target.getFieldVectors()) {
      loadField(vector, nodes, buffers, variadicCounts, what);
    }
    if (buffers.hasNext() || variadicCounts.hasNext()) {
      throw ArrowChunkException.malformed(what + " has more buffers than its schema uses");
    }
    for (FieldVector vector : target.getFieldVectors()) {
      if (vector.getValueCount() != batch.getLength()) {
        throw ArrowChunkException.malformed(
            what
                + " has "
                + batch.getLength()
                + " rows but its column "
                + vector.getName()
                + " has "
                + vector.getValueCount());
      }
      try {
        // The buffer checks only: the types were checked once, with the schema (checkTypes).
        vector.accept(new ValidateVectorBufferVisitor(), null);
      } catch (ValidateUtil.ValidateException e) {
        // Arrow's validation messages describe the data, not our internals, so pass them on.
        throw ArrowChunkException.malformed(
            what + ": column " + vector.getName() + " is invalid: " + e.getMessage());
      }
      checkOffsets(vector, what);
    }
    target.setRowCount(batch.getLength());
  }

  /**
   * Checks the type parameters of every vector of {@code root} (an integer's width, a decimal's
   * precision and so on, as the sender's schema set them). They depend on the schema alone, so
   * this runs once per schema; {@link #load} then checks only the buffers of each batch. (Arrow's
   * type checks build their messages eagerly, which made them a tenth of decoding a one-row call.)
   *
   * @throws ArrowChunkException naming the first column whose type is inconsistent
   */
  static void checkTypes(VectorSchemaRoot root) {
    for (FieldVector vector : root.getFieldVectors()) {
      checkType(vector);
    }
  }

  private static void checkType(FieldVector vector) {
    try {
      vector.accept(new ValidateVectorTypeVisitor(), null);
    } catch (ValidateUtil.ValidateException e) {
      throw ArrowChunkException.malformed(
          "the Arrow IPC schema's column " + vector.getName() + " is invalid: " + e.getMessage());
    }
  }

  /** Loads {@code data}, a batch of one field, into {@code vector}, replacing what it held. */
  static void loadSingle(FieldVector vector, ArrowRecordBatch data, String what) {
    checkType(vector);
    // A vector releases its old buffers while loading new ones; starting empty means a load that
    // fails halfway never leaves a released buffer behind for close() to release again.
    vector.clear();
    load(new VectorSchemaRoot(List.of(vector.getField()), List.of(vector), 0), data, what);
  }

  /** The number of field nodes a batch of {@code fields} carries: one per field, nested too. */
  static int countNodes(List<Field> fields) {
    int count = 0;
    for (Field field : fields) {
      count += 1 + countNodes(field.getChildren());
    }
    return count;
  }

  /** True if {@code e} is, or was caused by, the allocator refusing memory. */
  static boolean isOutOfMemory(Throwable e) {
    // Arrow sometimes wraps what a vector throws in IllegalArgumentException, so look at causes.
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof OutOfMemoryException) {
        return true;
      }
    }
    return false;
  }

  /** Hands one field its node and buffers, then its children theirs, in schema order. */
  private static void loadField(
      FieldVector vector,
      Iterator<ArrowFieldNode> nodes,
      Iterator<ArrowBuf> buffers,
      Iterator<Long> variadicCounts,
      String what) {
    ArrowFieldNode node = nodes.next(); // toRecordBatch checked there is one node per field.
    long count = TypeLayout.getTypeBufferCount(vector.getField().getType());
    if (vector instanceof BaseVariableWidthViewVector) {
      if (!variadicCounts.hasNext()) {
        throw ArrowChunkException.malformed(
            what + " lacks the variadic buffer count of column " + vector.getName());
      }
      count += variadicCounts.next();
    }
    List<ArrowBuf> own = new ArrayList<>();
    for (long i = 0; i < count; i++) {
      if (!buffers.hasNext()) {
        throw ArrowChunkException.malformed(
            what + " has too few buffers for column " + vector.getName());
      }
      own.add(buffers.next());
    }
    vector.loadFieldBuffers(node, own);
    for (FieldVector child : vector.getChildrenFromFields()) {
      loadField(child, nodes, buffers, variadicCounts, what);
    }
  }

  /**
   * Checks that no offset of {@code vector} or its children decreases. {@link
   * ValueVectorUtility#validate} checks only the last offset, so a decreasing one mid-vector would
   * send a model reading that row outside the vector's buffers. {@code validateFull} would catch it
   * too, but it also re-reads every value (UTF-8, decimal precision), too slow for every batch;
   * this reads the offsets alone.
   */
  private static void checkOffsets(ValueVector vector, String what) {
    int width =
        vector instanceof BaseVariableWidthVector || vector instanceof ListVector
            ? 4
            : vector instanceof BaseLargeVariableWidthVector || vector instanceof LargeListVector
                ? 8
                : 0;
    if (width > 0 && vector.getValueCount() > 0) {
      ArrowBuf offsets = vector.getOffsetBuffer();
      long previous = 0; // Offsets may start above 0, never below.
      for (int i = 0; i <= vector.getValueCount(); i++) {
        long offset = width == 4 ? offsets.getInt(4L * i) : offsets.getLong(8L * i);
        if (offset < previous) {
          throw ArrowChunkException.malformed(
              what + ": the offsets of column " + vector.getName() + " decrease at index " + i);
        }
        previous = offset;
      }
    }
    for (ValueVector child : vector) {
      checkOffsets(child, what);
    }
  }

  private static String compressionName(byte codec) {
    return codec >= 0 && codec < CompressionType.names.length
        ? CompressionType.name(codec)
        : "codec " + codec;
  }
}
