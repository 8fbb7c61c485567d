/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.DictionaryBatch;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
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
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;
import org.apache.arrow.vector.util.TransferPair;
import org.apache.arrow.vector.util.ValueVectorUtility;
import org.apache.arrow.vector.util.VectorBatchAppender;
import org.apache.arrow.vector.validate.ValidateUtil;
import org.jspecify.annotations.Nullable;

/**
 * Turns the chunks of an Arrow IPC stream, cut anywhere, back into record batches, one at a time.
 *
 * <p>Feed chunks with {@link #append}, then call {@link #nextBatch()} until it returns false; each
 * true loads one batch into {@link #root()}. When the input is over, call {@link #finish()} to
 * check the stream was complete. The decoder consumes input lazily: it never decodes past the
 * batch it is asked for, so the caller's flow control decides how much input is held.
 *
 * <pre>{@code
 * try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(allocator).build()) {
 *   for (ByteString chunk : chunks) {
 *     decoder.append(chunk);
 *     while (decoder.nextBatch()) {
 *       use(decoder.root());
 *     }
 *   }
 *   decoder.finish();
 * }
 * }</pre>
 *
 * <p>Memory: each message body is copied once from the chunks into one off-heap buffer from the
 * decoder's allocator; the batch's vectors are slices of it, so nothing more is copied. The
 * decoder holds at most the appended chunks not yet consumed, one message being assembled, the
 * current batch and the stream's dictionaries. Every limit is checked from the message header,
 * before the body is buffered.
 *
 * <p>Errors: malformed input or a broken limit throws {@link ArrowChunkException} naming the
 * message and the problem; after that the decoder is failed and only {@link #close()} is useful.
 * Nothing leaks on any path once {@link #close()} has run.
 *
 * <p>Not thread-safe: use one decoder per stream from one thread at a time.
 *
 * @since 0.1
 */
public final class ArrowChunkDecoder implements AutoCloseable {
  /** Default {@link Builder#maxMessageBytes}: 64 MiB, room for a million rows of 16 floats. */
  public static final long DEFAULT_MAX_MESSAGE_BYTES = 64L << 20;

  /** Default {@link Builder#maxBatchRows}: effectively unlimited; the byte limit bounds memory. */
  public static final int DEFAULT_MAX_BATCH_ROWS = Integer.MAX_VALUE;

  /** Default {@link Builder#maxStreamBytes}: unlimited, since streams exist to carry any size. */
  public static final long DEFAULT_MAX_STREAM_BYTES = Long.MAX_VALUE;

  private static final int CONTINUATION_TOKEN = 0xFFFFFFFF;

  /**
   * Metadata is buffered in an array that starts this small and doubles as bytes arrive, so an
   * 8-byte prefix announcing a huge length cannot make us allocate that much heap up front.
   */
  private static final int INITIAL_METADATA_BYTES = 4096;

  /** Schemas nested deeper are refused, as Arrow C++ refuses them by default. */
  private static final int MAX_FIELD_DEPTH = 64;

  private enum State {
    PREFIX,
    METADATA,
    BODY,
    ENDED,
    FAILED,
    CLOSED
  }

  private final BufferAllocator allocator;
  private final long maxMessageBytes;
  private final int maxBatchRows;
  private final long maxStreamBytes;

  private final ArrayDeque<ByteString> input = new ArrayDeque<>();
  private int inputOffset;

  private State state = State.PREFIX;
  private final byte[] prefix = new byte[8];
  private int prefixFilled;
  private int prefixNeeded = 4;
  private byte @Nullable [] metadata;
  private int metadataLength;
  private int metadataFilled;
  private @Nullable Message message;
  private @Nullable ArrowBuf body;
  /** The body's length; the buffer's capacity may be larger, as allocators round sizes up. */
  private long bodyLength;
  private long bodyFilled;

  private @Nullable VectorSchemaRoot root;
  private int recordBatchNodes; // One field node per field of the schema, nested ones included.
  private final Map<Long, Dictionary> dictionaries = new HashMap<>();
  private final DictionaryProvider.MapDictionaryProvider dictionaryProvider =
      new DictionaryProvider.MapDictionaryProvider();

  private long bytesReceived;
  private long messages;
  private long batches;
  private long rows;

  private ArrowChunkDecoder(Builder builder) {
    this.allocator = builder.allocator;
    this.maxMessageBytes = builder.maxMessageBytes;
    this.maxBatchRows = builder.maxBatchRows;
    this.maxStreamBytes = builder.maxStreamBytes;
  }

  /**
   * Starts building a decoder whose Arrow memory comes from {@code allocator}.
   *
   * <p>The decoder does not take ownership of the allocator; everything it allocates is released
   * by {@link #close()}.
   */
  public static Builder builder(BufferAllocator allocator) {
    return new Builder(requireNonNull(allocator, "allocator"));
  }

  /**
   * Queues the next chunk of the stream. Nothing is decoded until {@link #nextBatch()}.
   *
   * @throws ArrowChunkException if the chunk takes the stream over {@code maxStreamBytes}, or
   *     arrives after the end-of-stream marker
   * @throws IllegalStateException if the decoder failed or was closed
   */
  public void append(ByteString chunk) {
    requireNonNull(chunk, "chunk");
    checkUsable();
    if (chunk.isEmpty()) {
      return;
    }
    if (state == State.ENDED) {
      throw fail(ArrowChunkException.malformed("data after the Arrow IPC end-of-stream marker"));
    }
    bytesReceived += chunk.size();
    if (bytesReceived > maxStreamBytes) {
      throw fail(
          ArrowChunkException.limit(
              "the input stream exceeds the limit maxStreamBytes=" + maxStreamBytes));
    }
    input.add(chunk);
  }

  /**
   * Decodes queued input until the next record batch is complete and loads it into {@link
   * #root()}. Returns false when the queued input holds no complete batch (more must be appended)
   * or the end-of-stream marker was reached.
   *
   * <p>The previous batch in {@link #root()} is released.
   *
   * @throws ArrowChunkException if the input is malformed or exceeds a limit
   * @throws IllegalStateException if the decoder failed or was closed
   */
  public boolean nextBatch() {
    checkUsable();
    if (root != null) {
      // The previous batch's lifetime ends here; freeing it now, before the next body is
      // allocated, keeps one batch in memory instead of two.
      root.clear();
    }
    try {
      while (state != State.ENDED && !input.isEmpty()) {
        if (step()) {
          return true;
        }
      }
      if (!input.isEmpty()) {
        // The marker and the bytes after it came in one chunk, so append() could not see them.
        throw ArrowChunkException.malformed("data after the Arrow IPC end-of-stream marker");
      }
      return false;
    } catch (ArrowChunkException e) {
      throw fail(e);
    } catch (RuntimeException e) {
      if (isOutOfMemory(e)) {
        // Arrow sizes some buffers from the declared value counts rather than from the body, so
        // a small message can still reach the allocator's limit: a limit, not malformed input.
        throw fail(
            new ArrowChunkException(
                ArrowChunkException.Reason.LIMIT_EXCEEDED,
                "Arrow IPC message " + messages + " does not fit in the memory limit for this call",
                e));
      }
      // Arrow and flatbuffers report bad input with assorted runtime exceptions; their messages
      // name internal classes, so the sender gets our own description instead.
      throw fail(
          new ArrowChunkException(
              ArrowChunkException.Reason.MALFORMED,
              "Arrow IPC message " + messages + " is malformed",
              e));
    }
  }

  /**
   * Checks that the input ended at a message boundary after a schema. Call it once the sender has
   * finished and {@link #nextBatch()} has returned false.
   *
   * @throws ArrowChunkException if the stream ended inside a message or before its schema
   * @throws IllegalStateException if input is still queued, or the decoder failed or was closed
   */
  public void finish() {
    checkUsable();
    if (!input.isEmpty()) {
      throw new IllegalStateException("input is still queued: call nextBatch() until it is false");
    }
    if (state == State.METADATA || state == State.BODY || prefixFilled > 0) {
      throw fail(
          ArrowChunkException.malformed(
              "the input ended inside Arrow IPC message " + messages + " (truncated stream)"));
    }
    if (root == null) {
      throw fail(ArrowChunkException.malformed("the input ended before the Arrow IPC schema"));
    }
  }

  /** True once the stream's schema has been decoded. */
  public boolean hasSchema() {
    return root != null;
  }

  /**
   * The stream's schema, as the vectors in {@link #root()} have it.
   *
   * @throws IllegalStateException if no schema was decoded yet
   */
  public Schema schema() {
    return root().getSchema();
  }

  /**
   * The current batch. Borrowed: valid until the next call to {@link #nextBatch()} or {@link
   * #close()}; to keep data, transfer it into your own root.
   *
   * @throws IllegalStateException if no schema was decoded yet
   */
  public VectorSchemaRoot root() {
    if (root == null) {
      throw new IllegalStateException("no Arrow schema has been decoded yet");
    }
    return root;
  }

  /**
   * Moves the current batch into a new root that the caller owns, leaving {@link #root()} empty.
   * No data is copied.
   *
   * <p>Ownership of the returned root passes to the caller, who must close it. Its memory is
   * accounted to {@code target}.
   */
  public VectorSchemaRoot takeBatch(BufferAllocator target) {
    VectorSchemaRoot current = root();
    List<FieldVector> vectors = new ArrayList<>(current.getFieldVectors().size());
    for (FieldVector vector : current.getFieldVectors()) {
      TransferPair transfer = vector.getTransferPair(target);
      transfer.transfer();
      vectors.add((FieldVector) transfer.getTo());
    }
    int rowCount = current.getRowCount();
    current.setRowCount(0);
    // The Schema overload keeps the schema's custom metadata; the field-list one would drop it.
    return new VectorSchemaRoot(current.getSchema(), vectors, rowCount);
  }

  /**
   * The dictionaries of the stream's dictionary-encoded fields. Borrowed: valid until {@link
   * #close()}.
   */
  public DictionaryProvider dictionaries() {
    return dictionaryProvider;
  }

  /** True once the end-of-stream marker has been decoded. */
  public boolean isEndOfStream() {
    return state == State.ENDED;
  }

  /** Bytes appended so far. */
  public long bytesReceived() {
    return bytesReceived;
  }

  /** Record batches decoded so far. */
  public long batchesDecoded() {
    return batches;
  }

  /** Rows decoded so far. */
  public long rowsDecoded() {
    return rows;
  }

  /** Releases all Arrow memory the decoder holds. Idempotent. */
  @Override
  public void close() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    input.clear();
    releaseBody();
    if (root != null) {
      root.close();
    }
    for (Dictionary dictionary : dictionaries.values()) {
      dictionary.getVector().close();
    }
    dictionaries.clear();
  }

  /** Consumes queued input for one state transition; returns true if a batch was loaded. */
  private boolean step() {
    switch (state) {
      case PREFIX:
        prefixFilled += copyInput(prefix, prefixFilled, prefixNeeded - prefixFilled);
        return prefixFilled == prefixNeeded && onPrefix();
      case METADATA:
        growMetadataIfFull();
        metadataFilled += copyInput(metadata, metadataFilled, metadata.length - metadataFilled);
        return metadataFilled == metadataLength && onMetadata();
      case BODY:
        bodyFilled += copyInput(body, bodyFilled, bodyLength - bodyFilled);
        return bodyFilled == bodyLength && onMessage();
      default:
        throw new IllegalStateException("unexpected decoder state " + state);
    }
  }

  private boolean onPrefix() {
    int first = ByteBuffer.wrap(prefix, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    int metadataLength;
    if (prefixNeeded == 4 && first == CONTINUATION_TOKEN) {
      prefixNeeded = 8;
      return false;
    } else if (prefixNeeded == 8) {
      metadataLength = ByteBuffer.wrap(prefix, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    } else {
      metadataLength = first; // The pre-1.0 format had no continuation token.
    }
    prefixFilled = 0;
    prefixNeeded = 4;
    if (metadataLength == 0) {
      if (root == null) {
        throw ArrowChunkException.malformed("the Arrow IPC stream ended before its schema");
      }
      state = State.ENDED;
      return false;
    }
    if (metadataLength < 0) {
      throw ArrowChunkException.malformed(
          "Arrow IPC message " + messages + " has a negative metadata length " + metadataLength);
    }
    if (metadataLength > maxMessageBytes) {
      throw messageTooLarge(metadataLength);
    }
    this.metadataLength = metadataLength;
    metadata = new byte[Math.min(metadataLength, INITIAL_METADATA_BYTES)];
    metadataFilled = 0;
    state = State.METADATA;
    return false;
  }

  private void growMetadataIfFull() {
    if (metadataFilled == metadata.length) {
      metadata = Arrays.copyOf(metadata, (int) Math.min(metadataLength, 2L * metadata.length));
    }
  }

  private boolean onMetadata() {
    Message parsed = Message.getRootAsMessage(ByteBuffer.wrap(metadata));
    byte type = parsed.headerType();
    long bodyLength = parsed.bodyLength();
    if (bodyLength < 0) {
      throw ArrowChunkException.malformed(
          "Arrow IPC message " + messages + " has a negative body length");
    }
    // Subtracting cannot overflow; adding a hostile bodyLength near Long.MAX_VALUE could.
    if (bodyLength > maxMessageBytes - metadata.length) {
      throw messageTooLarge(metadata.length + bodyLength);
    }
    if (type == MessageHeader.Schema) {
      if (root != null) {
        throw ArrowChunkException.malformed(
            "Arrow IPC message " + messages + " is a second schema; a stream has exactly one");
      }
    } else if (root == null) {
      throw ArrowChunkException.malformed(
          "the first Arrow IPC message must be a Schema, got " + headerName(type));
    } else if (type == MessageHeader.RecordBatch) {
      long length = ((RecordBatch) parsed.header(new RecordBatch())).length();
      if (length < 0) {
        throw ArrowChunkException.malformed("record batch " + batches + " has a negative length");
      }
      if (length > maxBatchRows) {
        throw ArrowChunkException.limit(
            "record batch "
                + batches
                + " has "
                + length
                + " rows, over the limit maxBatchRows="
                + maxBatchRows);
      }
    } else if (type != MessageHeader.DictionaryBatch) {
      throw ArrowChunkException.malformed(
          "Arrow IPC message " + messages + " has unsupported type " + headerName(type));
    }
    message = parsed;
    if (bodyLength == 0) {
      return onMessage();
    }
    try {
      body = allocator.buffer(bodyLength);
    } catch (OutOfMemoryException e) {
      throw new ArrowChunkException(
          ArrowChunkException.Reason.LIMIT_EXCEEDED,
          "Arrow IPC message " + messages + " does not fit in the memory limit for this call",
          e);
    }
    this.bodyLength = bodyLength;
    bodyFilled = 0;
    state = State.BODY;
    return false;
  }

  /** Handles a complete message; returns true if it was a record batch. */
  private boolean onMessage() {
    Message current = message;
    ArrowBuf currentBody = body != null ? body : allocator.getEmpty();
    if (body == null) {
      bodyLength = 0;
    }
    try {
      boolean isBatch = handle(current, currentBody);
      // Counted only once handled, so that errors while handling it name this message's index.
      messages++;
      return isBatch;
    } finally {
      releaseBody();
      message = null;
      metadata = null;
      if (state != State.ENDED) {
        state = State.PREFIX;
      }
    }
  }

  /** Applies a complete message; returns true if it was a record batch. */
  private boolean handle(Message current, ArrowBuf currentBody) {
    switch (current.headerType()) {
      case MessageHeader.Schema:
        checkFieldTree(
            (org.apache.arrow.flatbuf.Schema)
                current.header(new org.apache.arrow.flatbuf.Schema()));
        onSchema(MessageSerializer.deserializeSchema(current));
        return false;
      case MessageHeader.DictionaryBatch:
        onDictionary(
            (DictionaryBatch) current.header(new DictionaryBatch()), currentBody, bodyLength);
        return false;
      default:
        onRecordBatch((RecordBatch) current.header(new RecordBatch()), currentBody, bodyLength);
        return true;
    }
  }

  private void onSchema(Schema messageSchema) {
    List<Field> fields = new ArrayList<>(messageSchema.getFields().size());
    for (Field field : messageSchema.getFields()) {
      fields.add(DictionaryUtility.toMemoryFormat(field, allocator, dictionaries));
    }
    for (Dictionary dictionary : dictionaries.values()) {
      dictionaryProvider.put(dictionary);
    }
    root = VectorSchemaRoot.create(new Schema(fields, messageSchema.getCustomMetadata()), allocator);
    recordBatchNodes = countNodes(fields);
  }

  private void onDictionary(DictionaryBatch header, ArrowBuf messageBody, long messageLength) {
    long id = header.id();
    Dictionary dictionary = dictionaries.get(id);
    if (dictionary == null) {
      throw ArrowChunkException.malformed(
          "dictionary batch for id " + id + ", which no field of the schema uses");
    }
    FieldVector vector = dictionary.getVector();
    int nodes = countNodes(List.of(vector.getField()));
    try (ArrowRecordBatch data =
        toRecordBatch(header.data(), messageBody, messageLength, nodes, "dictionary " + id)) {
      if (header.isDelta()) {
        try (FieldVector delta = vector.getField().createVector(allocator)) {
          loadSingle(delta, data, "dictionary " + id);
          VectorBatchAppender.batchAppend(vector, delta);
        }
      } else {
        loadSingle(vector, data, "dictionary " + id);
      }
    }
  }

  private static void loadSingle(FieldVector vector, ArrowRecordBatch data, String what) {
    // A vector releases its old buffers while loading new ones; starting empty means a load that
    // fails halfway never leaves a released buffer behind for close() to release again.
    vector.clear();
    load(new VectorSchemaRoot(List.of(vector.getField()), List.of(vector), 0), data, what);
  }

  private void onRecordBatch(RecordBatch header, ArrowBuf messageBody, long messageLength) {
    try (ArrowRecordBatch batch =
        toRecordBatch(
            header, messageBody, messageLength, recordBatchNodes, "record batch " + batches)) {
      load(root, batch, "record batch " + batches);
    }
    batches++;
    rows += root.getRowCount();
  }

  /**
   * Builds a record batch whose buffers are slices of {@code messageBody}, checking every buffer
   * lies inside it. The batch holds its own references; the caller still owns {@code
   * messageBody}.
   */
  private static ArrowRecordBatch toRecordBatch(
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
    List<Long> variadicCounts = new ArrayList<>();
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
  private static void load(VectorSchemaRoot target, ArrowRecordBatch batch, String what) {
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
        ValueVectorUtility.validate(vector);
      } catch (ValidateUtil.ValidateException e) {
        // Arrow's validation messages describe the data, not our internals, so pass them on.
        throw ArrowChunkException.malformed(
            what + ": column " + vector.getName() + " is invalid: " + e.getMessage());
      }
      checkOffsets(vector, what);
    }
    target.setRowCount(batch.getLength());
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

  /** The number of field nodes a batch of {@code fields} carries: one per field, nested too. */
  private static int countNodes(List<Field> fields) {
    int count = 0;
    for (Field field : fields) {
      count += 1 + countNodes(field.getChildren());
    }
    return count;
  }

  /**
   * Checks the schema's field tree before Arrow converts it. Arrow's conversion recurses once per
   * field and follows the flatbuffer's offsets as given, so crafted offsets can form a cycle (a
   * stack overflow) or make fields share children (a walk exponential in the depth). A genuine
   * schema holds each field once, in at least 8 bytes of metadata (its table and the offset that
   * points to it), which bounds the walk.
   */
  private void checkFieldTree(org.apache.arrow.flatbuf.Schema schema) {
    int budget = metadata.length / 8;
    for (int i = 0; i < schema.fieldsLength(); i++) {
      budget = checkField(schema.fields(i), 1, budget);
    }
  }

  /** Checks one field and its children; returns how many more fields the budget allows. */
  private static int checkField(org.apache.arrow.flatbuf.Field field, int depth, int budget) {
    if (depth > MAX_FIELD_DEPTH) {
      throw ArrowChunkException.malformed(
          "the Arrow IPC schema is nested more than " + MAX_FIELD_DEPTH + " levels deep");
    }
    if (--budget < 0) {
      throw ArrowChunkException.malformed(
          "the Arrow IPC schema has more fields than its metadata can hold");
    }
    for (int i = 0; i < field.childrenLength(); i++) {
      budget = checkField(field.children(i), depth + 1, budget);
    }
    return budget;
  }

  private static boolean isOutOfMemory(Throwable e) {
    // Arrow sometimes wraps what a vector throws in IllegalArgumentException, so look at causes.
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof OutOfMemoryException) {
        return true;
      }
    }
    return false;
  }

  private static String compressionName(byte codec) {
    return codec >= 0 && codec < CompressionType.names.length
        ? CompressionType.name(codec)
        : "codec " + codec;
  }

  /** Copies up to {@code max} queued bytes into {@code target}; returns the count copied. */
  private int copyInput(byte[] target, int targetOffset, int max) {
    ByteString head = input.peekFirst();
    int n = Math.min(max, head.size() - inputOffset);
    head.copyTo(target, inputOffset, targetOffset, n);
    advanceInput(head, n);
    return n;
  }

  /** Copies up to {@code max} queued bytes into {@code target}; returns the count copied. */
  private long copyInput(ArrowBuf target, long targetOffset, long max) {
    ByteString head = input.peekFirst();
    int n = (int) Math.min(max, head.size() - inputOffset);
    for (ByteBuffer piece : head.substring(inputOffset, inputOffset + n).asReadOnlyByteBufferList()) {
      int pieceLength = piece.remaining();
      target.setBytes(targetOffset, piece);
      targetOffset += pieceLength;
    }
    advanceInput(head, n);
    return n;
  }

  private void advanceInput(ByteString head, int n) {
    inputOffset += n;
    if (inputOffset == head.size()) {
      input.removeFirst();
      inputOffset = 0;
    }
  }

  private ArrowChunkException messageTooLarge(long size) {
    return ArrowChunkException.limit(
        "Arrow IPC message "
            + messages
            + " has "
            + size
            + " bytes, over the limit maxMessageBytes="
            + maxMessageBytes);
  }

  private static String headerName(byte type) {
    return type >= 0 && type < MessageHeader.names.length
        ? MessageHeader.name(type)
        : "unknown (" + type + ")";
  }

  private void releaseBody() {
    if (body != null) {
      body.close();
      body = null;
    }
  }

  private ArrowChunkException fail(ArrowChunkException e) {
    if (state != State.CLOSED) {
      state = State.FAILED;
    }
    input.clear();
    releaseBody();
    return e;
  }

  private void checkUsable() {
    if (state == State.FAILED) {
      throw new IllegalStateException("the decoder failed on earlier input");
    }
    if (state == State.CLOSED) {
      throw new IllegalStateException("the decoder is closed");
    }
  }

  /**
   * Configures an {@link ArrowChunkDecoder}. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private final BufferAllocator allocator;
    private long maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    private int maxBatchRows = DEFAULT_MAX_BATCH_ROWS;
    private long maxStreamBytes = DEFAULT_MAX_STREAM_BYTES;

    private Builder(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    /**
     * The largest single Arrow IPC message (metadata plus body), which bounds one batch's memory.
     * Default {@value ArrowChunkDecoder#DEFAULT_MAX_MESSAGE_BYTES}.
     */
    public Builder maxMessageBytes(long maxMessageBytes) {
      if (maxMessageBytes <= 0) {
        throw new IllegalArgumentException(
            "maxMessageBytes: " + maxMessageBytes + " (expected: > 0)");
      }
      this.maxMessageBytes = maxMessageBytes;
      return this;
    }

    /** The most rows one record batch may have. Default: unlimited. */
    public Builder maxBatchRows(int maxBatchRows) {
      if (maxBatchRows <= 0) {
        throw new IllegalArgumentException("maxBatchRows: " + maxBatchRows + " (expected: > 0)");
      }
      this.maxBatchRows = maxBatchRows;
      return this;
    }

    /** The most bytes the whole stream may have. Default: unlimited. */
    public Builder maxStreamBytes(long maxStreamBytes) {
      if (maxStreamBytes <= 0) {
        throw new IllegalArgumentException(
            "maxStreamBytes: " + maxStreamBytes + " (expected: > 0)");
      }
      this.maxStreamBytes = maxStreamBytes;
      return this;
    }

    /** Creates the decoder. */
    public ArrowChunkDecoder build() {
      return new ArrowChunkDecoder(this);
    }
  }
}
