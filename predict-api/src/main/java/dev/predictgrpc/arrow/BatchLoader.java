/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flatbuf.BodyCompression;
import org.apache.arrow.flatbuf.BodyCompressionMethod;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BaseLargeVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthViewVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.compression.CompressionCodec;
import org.apache.arrow.vector.compression.CompressionUtil;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
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
   * Bitmaps Arrow may allocate beyond a batch's body: a column without a validity buffer (all
   * valid, or all null) gets one sized by its declared length. Genuine batches need far less than
   * their body; this slack covers tiny batches.
   */
  static final long IMPLIED_VALIDITY_SLACK_BYTES = 64 << 10;

  private static final long[] NO_VARIADIC_COUNTS = {};

  /**
   * Builds a record batch whose buffers are slices of {@code messageBody}, after checking the
   * header against {@code shape} and the body: node and buffer counts, every node's length and
   * null count, every buffer inside the body, and the bitmaps Arrow would allocate for columns
   * that carry none. All of that is checked before anything is sliced or allocated, so a header
   * that declares huge counts costs its sender, not the server. The batch borrows {@code
   * messageBody}, which the caller still owns and must keep open until it has closed the batch.
   * Ownership of the returned batch passes to the caller, who must close it.
   */
  static CheckedBatch toCheckedBatch(
      RecordBatch header,
      ArrowBuf messageBody,
      long bodyLength,
      BatchShape shape,
      BufferAllocator allocator,
      long maxUncompressedBytes,
      String what) {
    // Checked here so the error can say what is wrong, rather than fail somewhere in loading.
    if (header.nodesLength() != shape.nodes()) {
      throw ArrowChunkException.malformed(
          what
              + " has "
              + header.nodesLength()
              + " field nodes but its schema has "
              + shape.nodes()
              + " fields, nested ones included");
    }
    CompressionCodec codec = header.compression() == null ? null : codecOf(header, what);
    long rows = header.length();
    if (rows < 0 || rows > Integer.MAX_VALUE) {
      throw ArrowChunkException.malformed(what + " declares " + rows + " rows");
    }
    if (header.variadicBufferCountsLength() != shape.viewNodes()) {
      throw ArrowChunkException.malformed(
          what
              + " has "
              + header.variadicBufferCountsLength()
              + " variadic buffer counts but its schema has "
              + shape.viewNodes()
              + " view columns");
    }
    long[] variadicCounts =
        shape.viewNodes() == 0 ? NO_VARIADIC_COUNTS : new long[shape.viewNodes()];
    long expectedBuffers = shape.fixedBuffers();
    for (int i = 0; i < variadicCounts.length; i++) {
      long count = header.variadicBufferCounts(i);
      // Each bound keeps the sum far from overflow: buffersLength() is an int.
      if (count < 0 || count > header.buffersLength()) {
        throw ArrowChunkException.malformed(
            what + " has an invalid variadic buffer count " + count);
      }
      variadicCounts[i] = count;
      expectedBuffers += count;
    }
    if (header.buffersLength() != expectedBuffers) {
      throw ArrowChunkException.malformed(
          what
              + " lists "
              + header.buffersLength()
              + " buffers but its schema needs "
              + expectedBuffers);
    }
    ArrowFieldNode[] nodes = new ArrowFieldNode[shape.nodes()];
    FieldNode node = new FieldNode();
    Buffer buffer = new Buffer();
    long impliedValidityBytes = 0;
    int bufferIndex = 0;
    int viewIndex = 0;
    for (int i = 0; i < shape.nodes(); i++) {
      header.nodes(node, i);
      long length = node.length();
      long nullCount = node.nullCount();
      if (length < 0 || length > Integer.MAX_VALUE || nullCount < 0 || nullCount > length) {
        throw ArrowChunkException.malformed(
            what + " has an invalid field node " + i + " (length " + length + ", null count "
                + nullCount + ")");
      }
      if (shape.isTopLevel(i) && length != rows) {
        throw ArrowChunkException.malformed(
            what + " has " + rows + " rows but its field node " + i + " declares " + length);
      }
      if (shape.hasValidity(i)) {
        header.buffers(buffer, bufferIndex);
        if (buffer.length() == 0 && (nullCount == 0 || nullCount == length)) {
          impliedValidityBytes += (length + 7) / 8;
        }
      }
      bufferIndex += shape.fixedBuffers(i);
      if (shape.isView(i)) {
        bufferIndex += (int) variadicCounts[viewIndex++];
      }
      nodes[i] = new ArrowFieldNode(length, nullCount);
    }
    // A compressed body may legitimately stand for more bytes than it carries, up to what its
    // buffers declare (itself bounded by maxUncompressedBytes, checked below before decompressing).
    long effectiveBody =
        codec == null
            ? bodyLength
            : declaredUncompressedBytes(header, messageBody, bodyLength, maxUncompressedBytes, what);
    if (impliedValidityBytes > effectiveBody + IMPLIED_VALIDITY_SLACK_BYTES) {
      throw ArrowChunkException.malformed(
          what
              + " declares columns whose validity bitmaps would take "
              + impliedValidityBytes
              + " bytes but carries a body of only "
              + effectiveBody
              + " bytes");
    }
    ArrowBuf[] buffers = new ArrowBuf[header.buffersLength()];
    List<ArrowBuf> decompressed = codec == null ? List.of() : new ArrayList<>(buffers.length);
    boolean built = false;
    try {
      for (int i = 0; i < buffers.length; i++) {
        header.buffers(buffer, i);
        long offset = buffer.offset();
        long length = buffer.length();
        if (offset < 0 || length < 0 || offset > bodyLength || length > bodyLength - offset) {
          throw ArrowChunkException.malformed(
              what
                  + ": buffer "
                  + i
                  + " spans "
                  + length
                  + " bytes from offset "
                  + offset
                  + " but the message body has "
                  + bodyLength
                  + " bytes");
        }
        ArrowBuf slice = messageBody.slice(offset, length);
        buffers[i] =
            codec == null ? slice : decompress(codec, slice, allocator, decompressed, what, i);
      }
      // The batch takes over the decompressed buffers; the slices borrow the caller's body.
      CheckedBatch batch =
          new CheckedBatch((int) rows, nodes, buffers, variadicCounts, decompressed);
      built = true;
      return batch;
    } finally {
      if (!built) {
        decompressed.forEach(ArrowBuf::close);
      }
    }
  }

  /** The codec a compressed batch names; only per-buffer LZ4_FRAME and ZSTD exist in the format. */
  private static CompressionCodec codecOf(RecordBatch header, String what) {
    BodyCompression compression = header.compression();
    if (compression.method() != BodyCompressionMethod.BUFFER) {
      throw ArrowChunkException.malformed(
          what + " uses an unknown body compression method " + compression.method());
    }
    if (compression.codec() == CompressionType.LZ4_FRAME) {
      return IpcCompression.LZ4_FRAME.codec();
    }
    if (compression.codec() == CompressionType.ZSTD) {
      return IpcCompression.ZSTD.codec(); // Decoding reads any level.
    }
    throw ArrowChunkException.malformed(
        what + " is compressed with an unknown codec " + compressionName(compression.codec()));
  }

  /**
   * The bytes the compressed buffers of a batch declare they expand to (each starts with its
   * uncompressed length, or -1 if it was left uncompressed), checked against {@code limit}
   * before anything is decompressed: a few compressed bytes may not make the server allocate
   * more than a message may hold.
   */
  private static long declaredUncompressedBytes(
      RecordBatch header, ArrowBuf body, long bodyLength, long limit, String what) {
    Buffer buffer = new Buffer();
    long total = 0;
    for (int i = 0; i < header.buffersLength(); i++) {
      header.buffers(buffer, i);
      long offset = buffer.offset();
      long length = buffer.length();
      if (length == 0) {
        continue;
      }
      if (offset < 0 || length < 8 || offset > bodyLength || length > bodyLength - offset) {
        throw ArrowChunkException.malformed(
            what + ": compressed buffer " + i + " is too short or outside the message body");
      }
      long declared = body.getLong(offset);
      if (declared == CompressionUtil.NO_COMPRESSION_LENGTH) {
        declared = length - 8;
      } else if (declared < 0) {
        throw ArrowChunkException.malformed(
            what + ": compressed buffer " + i + " declares a negative uncompressed length");
      }
      if (declared > limit - total) {
        throw ArrowChunkException.limit(
            what
                + " declares more than "
                + limit
                + " bytes once decompressed (limit maxMessageBytes="
                + limit
                + ")");
      }
      total += declared;
    }
    return total;
  }

  /** One buffer, decompressed into memory from {@code allocator} (recorded in {@code owned}). */
  private static ArrowBuf decompress(
      CompressionCodec codec,
      ArrowBuf slice,
      BufferAllocator allocator,
      List<ArrowBuf> owned,
      String what,
      int index) {
    if (slice.capacity() == 0) {
      return slice;
    }
    // The codec closes the buffer it is given; a retained reference keeps the body alive.
    slice.getReferenceManager().retain();
    ArrowBuf out;
    try {
      out = codec.decompress(allocator, slice);
    } catch (RuntimeException e) {
      // The codec closes its input only once it succeeds: give back the reference taken above,
      // or the whole message body stays allocated after the call has failed.
      slice.close();
      if (MemoryLimits.isOutOfMemory(e)) {
        throw e;
      }
      throw new ArrowChunkException(
          ArrowChunkException.Reason.MALFORMED,
          what + ": compressed buffer " + index + " cannot be decompressed",
          e);
    }
    owned.add(out);
    return out;
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
  static void load(VectorSchemaRoot target, CheckedBatch batch, String what) {
    List<FieldVector> vectors = target.getFieldVectors();
    for (int i = 0; i < vectors.size(); i++) {
      loadField(vectors.get(i), batch, what);
    }
    if (batch.hasUnread()) {
      throw ArrowChunkException.malformed(what + " has more buffers than its schema uses");
    }
    for (int i = 0; i < vectors.size(); i++) {
      FieldVector vector = vectors.get(i);
      if (vector.getValueCount() != batch.length()) {
        throw ArrowChunkException.malformed(
            what
                + " has "
                + batch.length()
                + " rows but its column "
                + vector.getName()
                + " has "
                + vector.getValueCount());
      }
      checkBuffers(vector, what);
      checkOffsets(vector, what);
    }
    target.setRowCount(batch.length());
  }

  /**
   * Checks that {@code vector}'s buffers hold its values. The types were checked once, with the
   * schema (see {@link #checkTypes}).
   */
  private static void checkBuffers(FieldVector vector, String what) {
    if (vector instanceof BaseFixedWidthVector) {
      checkFixedWidthBuffers((BaseFixedWidthVector) vector, what);
      return;
    }
    try {
      vector.accept(new ValidateVectorBufferVisitor(), null);
    } catch (ValidateUtil.ValidateException e) {
      // Arrow's validation messages describe the data, not our internals, so pass them on.
      throw ArrowChunkException.malformed(
          what + ": column " + vector.getName() + " is invalid: " + e.getMessage());
    }
  }

  /**
   * What {@link ValidateVectorBufferVisitor} checks of a fixed-width vector, without its per-call
   * garbage: it looks up the type's layout and copies the buffer list twice per column, a tenth of
   * decoding a one-row request. The buffer count needs no check here: {@code loadFieldBuffers}
   * takes exactly two buffers or throws.
   */
  private static void checkFixedWidthBuffers(BaseFixedWidthVector vector, String what) {
    long valueCount = vector.getValueCount();
    ArrowBuf validity = vector.getValidityBuffer();
    ArrowBuf data = vector.getDataBuffer();
    if (validity == null || validity.capacity() * 8 < valueCount) {
      throw ArrowChunkException.malformed(
          what + ": column " + vector.getName() + " is invalid: its validity buffer has "
              + (validity == null ? 0 : validity.capacity()) + " bytes for " + valueCount
              + " values");
    }
    // Compared by division, not by multiplying a width (up to 2^31 bytes) by a count (up to 2^31).
    boolean dataHoldsValues =
        data != null
            && (vector instanceof BitVector
                ? data.capacity() * 8 >= valueCount
                : data.capacity() / vector.getTypeWidth() >= valueCount);
    if (!dataHoldsValues) {
      throw ArrowChunkException.malformed(
          what + ": column " + vector.getName() + " is invalid: its data buffer has "
              + (data == null ? 0 : data.capacity()) + " bytes for " + valueCount + " values of "
              + (vector instanceof BitVector ? "1 bit" : vector.getTypeWidth() + " bytes"));
    }
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
  static void loadSingle(FieldVector vector, CheckedBatch data, String what) {
    checkType(vector);
    // A vector releases its old buffers while loading new ones; starting empty means a load that
    // fails halfway never leaves a released buffer behind for close() to release again.
    vector.clear();
    load(new VectorSchemaRoot(List.of(vector.getField()), List.of(vector), 0), data, what);
  }

  /**
   * Checks that every dictionary index in {@code root}, nested columns included, points inside its
   * dictionary, so a model or a decoding step never reads past a dictionary's values.
   *
   * @param dictionaries the stream's dictionaries by id; a missing one counts as empty
   */
  static void checkDictionaryIndices(
      VectorSchemaRoot root, Map<Long, Dictionary> dictionaries, String what) {
    for (FieldVector vector : root.getFieldVectors()) {
      checkDictionaryIndices(vector, dictionaries, what);
    }
  }

  private static void checkDictionaryIndices(
      ValueVector vector, Map<Long, Dictionary> dictionaries, String what) {
    DictionaryEncoding encoding = vector.getField().getDictionary();
    if (encoding != null && vector instanceof BaseIntVector) {
      Dictionary dictionary = dictionaries.get(encoding.getId());
      long size = dictionary == null ? 0 : dictionary.getVector().getValueCount();
      BaseIntVector indices = (BaseIntVector) vector;
      for (int row = 0; row < vector.getValueCount(); row++) {
        if (!vector.isNull(row)) {
          long index = indices.getValueAsLong(row);
          if (index < 0 || index >= size) {
            throw ArrowChunkException.malformed(
                what
                    + ": column "
                    + vector.getName()
                    + " has dictionary index "
                    + index
                    + " at row "
                    + row
                    + ", outside its dictionary of "
                    + size
                    + " values");
          }
        }
      }
    }
    for (ValueVector child : vector) {
      checkDictionaryIndices(child, dictionaries, what);
    }
  }

  /** Hands one field its node and buffers, then its children theirs, in schema order. */
  private static void loadField(FieldVector vector, CheckedBatch batch, String what) {
    ArrowFieldNode node = batch.nextNode(); // toCheckedBatch checked there is one per field.
    long count = TypeLayout.getTypeBufferCount(vector.getField().getType());
    if (vector instanceof BaseVariableWidthViewVector) {
      if (!batch.hasVariadicCount()) {
        throw ArrowChunkException.malformed(
            what + " lacks the variadic buffer count of column " + vector.getName());
      }
      count += batch.nextVariadicCount();
    }
    if (count > batch.remainingBuffers()) {
      throw ArrowChunkException.malformed(
          what + " has too few buffers for column " + vector.getName());
    }
    vector.loadFieldBuffers(node, batch.nextBuffers((int) count));
    List<FieldVector> children = vector.getChildrenFromFields();
    for (int i = 0; i < children.size(); i++) {
      loadField(children.get(i), batch, what);
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
