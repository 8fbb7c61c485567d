/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flatbuf.DictionaryBatch;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;
import org.apache.arrow.vector.util.TransferPair;
import org.apache.arrow.vector.util.VectorBatchAppender;
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
 * current batch and the stream's dictionaries. It never allocates for a size the input merely
 * declares: a body's buffer is allocated only once every byte of it has arrived, and every count
 * and size in a header is checked against the limits, the schema and the body before anything is
 * allocated for it. Until then, input bytes held in chunks and metadata are counted against the
 * allocator's limit (and its ancestors') as if allocated, so an allocator limit bounds everything
 * the decoder holds, and a sender that goes over it is refused as soon as it does.
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

  /**
   * Default {@link Builder#maxMetadataBytes}: 4 MiB, room for the schema of 10,000 columns and the
   * header of a batch of them.
   */
  public static final int DEFAULT_MAX_METADATA_BYTES = 4 << 20;

  /** Default {@link Builder#maxSchemaFields}: 10,000 fields, nested ones included. */
  public static final int DEFAULT_MAX_SCHEMA_FIELDS = 10_000;

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
  private final int maxMetadataBytes;
  private final int maxSchemaFields;

  private final ChunkQueue input = new ChunkQueue();
  private final MessageFramer framer = new MessageFramer();

  private State state = State.PREFIX;
  private final InputAccount heldInput;
  private final @Nullable SchemaListener schemaListener;

  private @Nullable Message message;
  private @Nullable ArrowBuf body;
  /** The body's length; the buffer's capacity may be larger, as allocators round sizes up. */
  private long bodyLength;
  private long bodyFilled;

  private @Nullable VectorSchemaRoot root;
  private @Nullable BatchShape batchShape;
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
    this.maxMetadataBytes = builder.maxMetadataBytes;
    this.maxSchemaFields = builder.maxSchemaFields;
    this.schemaListener = builder.schemaListener;
    this.heldInput = new InputAccount(allocator);
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
    countInput(chunk.size());
    input.add(chunk);
    holdInput();
  }

  /**
   * Queues the next chunk of the stream as views of memory the caller lends: the decoder reads the
   * buffers' remaining bytes, in order, without moving their positions, and runs {@code release}
   * exactly once, as soon as it no longer needs them. That is when the chunk's last byte has been
   * decoded, or when the decoder fails or is closed, or at once if this method throws. Use it for
   * chunks in pooled memory, such as the network buffers a message arrived in, to save a copy.
   *
   * @throws ArrowChunkException if the chunk takes the stream over {@code maxStreamBytes}, or
   *     arrives after the end-of-stream marker
   * @throws IllegalStateException if the decoder failed or was closed
   */
  public void append(List<ByteBuffer> chunk, Runnable release) {
    requireNonNull(release, "release");
    boolean queued = false;
    try {
      requireNonNull(chunk, "chunk");
      checkUsable();
      long size = 0;
      for (ByteBuffer piece : chunk) {
        size += piece.remaining();
      }
      if (size == 0) {
        return;
      }
      countInput(size);
      input.add(chunk, release);
      queued = true;
      holdInput();
    } finally {
      if (!queued) {
        release.run();
      }
    }
  }

  /** Counts the input now held, refusing it if that breaks the allocator's limit. */
  private void holdInput() {
    try {
      heldInput.holdExactly(
          input.queuedBytes() + framer.heldMetadataBytes(),
          "the input held for Arrow IPC message " + messages);
    } catch (ArrowChunkException e) {
      throw fail(e);
    }
  }

  private void countInput(long size) {
    if (state == State.ENDED) {
      throw fail(ArrowChunkException.malformed("data after the Arrow IPC end-of-stream marker"));
    }
    bytesReceived += size;
    if (bytesReceived > maxStreamBytes) {
      throw fail(
          ArrowChunkException.limit(
              "the input stream exceeds the limit maxStreamBytes=" + maxStreamBytes));
    }
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
        Step step = step();
        if (step == Step.BATCH) {
          holdInput();
          return true;
        }
        if (step == Step.NEEDS_INPUT) {
          holdInput();
          return false;
        }
      }
      if (!input.isEmpty()) {
        // The marker and the bytes after it came in one chunk, so append() could not see them.
        throw ArrowChunkException.malformed("data after the Arrow IPC end-of-stream marker");
      }
      holdInput();
      return false;
    } catch (ArrowChunkException e) {
      throw fail(e);
    } catch (SchemaRejected e) {
      fail(null);
      throw e.rejection;
    } catch (RuntimeException e) {
      if (MemoryLimits.isOutOfMemory(e)) {
        // Arrow allocates validity bitmaps for columns that carry none, and the body itself is
        // allocated here: the allocator's limit, not malformed input.
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
    boolean awaitingBody = state == State.BODY && body == null;
    if (!input.isEmpty() && !awaitingBody) {
      throw new IllegalStateException("input is still queued: call nextBatch() until it is false");
    }
    if (state == State.METADATA || state == State.BODY || framer.isInsidePrefix()) {
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

  /**
   * True if part of an Arrow IPC message has been read and the rest has not: the decoder holds
   * input for a message that is still arriving.
   */
  public boolean isInsideMessage() {
    return state == State.METADATA || state == State.BODY || framer.isInsidePrefix();
  }

  /** Arrow IPC messages decoded so far (schema, dictionary and record batches). */
  public long messagesDecoded() {
    return messages;
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
    try {
      input.clear();
    } finally {
      heldInput.releaseAll();
      releaseBody();
      if (root != null) {
        root.close();
      }
      for (Dictionary dictionary : dictionaries.values()) {
        dictionary.getVector().close();
      }
      dictionaries.clear();
    }
  }

  /** What one step of decoding achieved. */
  private enum Step {
    /** Input was consumed; decoding can go on. */
    PROGRESS,
    /** A record batch was loaded into the root. */
    BATCH,
    /** The current message needs more input than is queued. */
    NEEDS_INPUT
  }

  /** Consumes queued input for one state transition. */
  private Step step() {
    switch (state) {
      case PREFIX:
        if (framer.readPrefix(input)) {
          onPrefix(framer.prefixLength());
        }
        return Step.PROGRESS; // A prefix alone never completes a batch.
      case METADATA:
        return framer.readMetadata(input) && onMetadata(framer.metadata())
            ? Step.BATCH
            : Step.PROGRESS;
      case BODY:
        if (body == null) {
          if (input.queuedBytes() < bodyLength) {
            // Allocated only once all of it has arrived: a sender cannot make us hold more than
            // it sent by announcing a big body and going quiet.
            return Step.NEEDS_INPUT;
          }
          allocateBody();
        }
        bodyFilled += input.copyTo(body, bodyFilled, bodyLength - bodyFilled);
        return bodyFilled == bodyLength && onMessage() ? Step.BATCH : Step.PROGRESS;
      default:
        throw new IllegalStateException("unexpected decoder state " + state);
    }
  }

  private void allocateBody() {
    // The body's bytes move from the queue into Arrow memory: stop counting them as queued input
    // first, so that they do not count twice against the limit.
    heldInput.release(bodyLength);
    try {
      body = allocator.buffer(bodyLength);
    } catch (OutOfMemoryException e) {
      throw new ArrowChunkException(
          ArrowChunkException.Reason.LIMIT_EXCEEDED,
          "Arrow IPC message " + messages + " does not fit in the memory limit for this call",
          e);
    }
    bodyFilled = 0;
  }

  private void onPrefix(int metadataLength) {
    if (metadataLength == 0) {
      if (root == null) {
        throw ArrowChunkException.malformed("the Arrow IPC stream ended before its schema");
      }
      state = State.ENDED;
      return;
    }
    if (root == null && !framer.prefixHadContinuation()
        && (metadataLength < 0 || metadataLength > maxMetadataBytes)) {
      throw notAnIpcStream(framer.prefixFirstWord());
    }
    if (metadataLength < 0) {
      throw ArrowChunkException.malformed(
          "Arrow IPC message " + messages + " has a negative metadata length " + metadataLength);
    }
    if (metadataLength > maxMetadataBytes) {
      throw ArrowChunkException.limit(
          "Arrow IPC message "
              + messages
              + " has "
              + metadataLength
              + " bytes of metadata, over the limit maxMetadataBytes="
              + maxMetadataBytes);
    }
    if (metadataLength > maxMessageBytes) {
      throw messageTooLarge(metadataLength, 0);
    }
    framer.startMetadata(metadataLength);
    state = State.METADATA;
  }

  private boolean onMetadata(byte[] metadata) {
    Message parsed = Message.getRootAsMessage(ByteBuffer.wrap(metadata));
    byte type = parsed.headerType();
    long bodyLength = parsed.bodyLength();
    if (bodyLength < 0) {
      throw ArrowChunkException.malformed(
          "Arrow IPC message " + messages + " has a negative body length");
    }
    // Subtracting cannot overflow; adding a hostile bodyLength near Long.MAX_VALUE could.
    if (bodyLength > maxMessageBytes - metadata.length) {
      throw messageTooLarge(metadata.length, bodyLength);
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
    this.bodyLength = bodyLength;
    bodyFilled = 0;
    state = State.BODY; // The body is allocated once all of it has arrived; see step().
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
      framer.endMessage();
      if (state != State.ENDED) {
        state = State.PREFIX;
      }
    }
  }

  /** Applies a complete message; returns true if it was a record batch. */
  private boolean handle(Message current, ArrowBuf currentBody) {
    switch (current.headerType()) {
      case MessageHeader.Schema:
        byte[] metadata = framer.metadata();
        onSchema(
            SchemaMessages.decode(
                metadata,
                current,
                schemaMessage -> {
                  FieldTreeCheck.check(
                      (org.apache.arrow.flatbuf.Schema)
                          schemaMessage.header(new org.apache.arrow.flatbuf.Schema()),
                      metadata.length,
                      maxSchemaFields);
                  Schema parsed = MessageSerializer.deserializeSchema(schemaMessage);
                  // Vectors without buffers: nothing is allocated, only the types are checked.
                  try (VectorSchemaRoot probe = VectorSchemaRoot.create(parsed, allocator)) {
                    BatchLoader.checkTypes(probe);
                  }
                  return parsed;
                }));
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

  private void onSchema(SchemaMessages.Decoded decoded) {
    Schema messageSchema = decoded.schema();
    if (!decoded.dictionaryEncoded()) {
      // The common case: vectors straight from the (possibly cached, immutable) message schema.
      root = VectorSchemaRoot.create(messageSchema, allocator);
      batchShape = decoded.shape();
      notifySchema();
      return;
    }
    List<Field> fields = new ArrayList<>(messageSchema.getFields().size());
    for (Field field : messageSchema.getFields()) {
      fields.add(DictionaryUtility.toMemoryFormat(field, allocator, dictionaries));
    }
    for (Dictionary dictionary : dictionaries.values()) {
      dictionaryProvider.put(dictionary);
    }
    root = VectorSchemaRoot.create(new Schema(fields, messageSchema.getCustomMetadata()), allocator);
    BatchLoader.checkTypes(root); // The dictionaries' index types, which the message schema lacks.
    batchShape = BatchShape.of(fields);
    notifySchema();
  }

  /** Hands the schema to the listener before any batch is decoded; see Builder#onSchema. */
  private void notifySchema() {
    if (schemaListener != null) {
      try {
        schemaListener.onSchema(root.getSchema(), dictionaryProvider);
      } catch (RuntimeException e) {
        throw new SchemaRejected(e);
      }
    }
  }

  /** Carries the schema listener's own exception past the decoder's input error handling. */
  private static final class SchemaRejected extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient RuntimeException rejection;

    SchemaRejected(RuntimeException rejection) {
      super(null, null, false, false);
      this.rejection = rejection;
    }
  }

  private void onDictionary(DictionaryBatch header, ArrowBuf messageBody, long messageLength) {
    long id = header.id();
    Dictionary dictionary = dictionaries.get(id);
    if (dictionary == null) {
      throw ArrowChunkException.malformed(
          "dictionary batch for id " + id + ", which no field of the schema uses");
    }
    FieldVector vector = dictionary.getVector();
    BatchShape shape = BatchShape.of(List.of(vector.getField()));
    try (CheckedBatch data =
        BatchLoader.toCheckedBatch(
            header.data(),
            messageBody,
            messageLength,
            shape,
            allocator,
            maxMessageBytes,
            "dictionary " + id)) {
      if (header.isDelta()) {
        try (FieldVector delta = vector.getField().createVector(allocator)) {
          BatchLoader.loadSingle(delta, data, "dictionary " + id);
          VectorBatchAppender.batchAppend(vector, delta);
        }
      } else {
        BatchLoader.loadSingle(vector, data, "dictionary " + id);
      }
    }
  }

  private void onRecordBatch(RecordBatch header, ArrowBuf messageBody, long messageLength) {
    String what = "record batch " + batches;
    try (CheckedBatch batch =
        BatchLoader.toCheckedBatch(
            header, messageBody, messageLength, batchShape, allocator, maxMessageBytes, what)) {
      BatchLoader.load(root, batch, what);
    }
    if (!dictionaries.isEmpty()) {
      BatchLoader.checkDictionaryIndices(root, dictionaries, what);
    }
    batches++;
    rows += root.getRowCount();
  }

  private ArrowChunkException messageTooLarge(long metadataBytes, long bodyBytes) {
    return ArrowChunkException.limit(
        "Arrow IPC message "
            + messages
            + " has "
            + metadataBytes
            + " bytes of metadata and a body of "
            + bodyBytes
            + " bytes, over the limit maxMessageBytes="
            + maxMessageBytes);
  }

  /** The input's first bytes are neither an IPC stream's prefix nor a plausible legacy one. */
  private static ArrowChunkException notAnIpcStream(int firstWord) {
    // "ARRO", the start of the Arrow file format's magic "ARROW1".
    if (firstWord == 0x4152524F) {
      return ArrowChunkException.malformed(
          "the input is not an Arrow IPC stream but an Arrow IPC file (it starts with ARROW1):"
              + " send the stream format (ArrowStreamWriter), not the file format");
    }
    return ArrowChunkException.malformed(
        "the input is not an Arrow IPC stream: it does not start with the continuation marker"
            + " 0xFFFFFFFF and a metadata length");
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

  private ArrowChunkException fail(@Nullable ArrowChunkException e) {
    if (state != State.CLOSED) {
      state = State.FAILED;
    }
    try {
      input.clear();
    } finally {
      heldInput.releaseAll();
      releaseBody();
    }
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
   * Told the stream's schema before any batch is decoded; see {@link Builder#onSchema}.
   *
   * @since 0.2
   */
  @FunctionalInterface
  public interface SchemaListener {
    /**
     * Receives the schema, as {@link #root()} has it, and the stream's dictionaries, which hold
     * each dictionary-encoded column's value type but no values yet. Both are borrowed: valid
     * until the decoder closes. Throw to refuse the stream.
     */
    void onSchema(Schema schema, DictionaryProvider dictionaries);
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
    private int maxMetadataBytes = DEFAULT_MAX_METADATA_BYTES;
    private int maxSchemaFields = DEFAULT_MAX_SCHEMA_FIELDS;
    private @Nullable SchemaListener schemaListener;

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

    /**
     * The largest metadata of one Arrow IPC message: the flatbuffer describing a schema or a
     * batch's layout, assembled on the heap as it arrives. Default {@value
     * ArrowChunkDecoder#DEFAULT_MAX_METADATA_BYTES}.
     */
    public Builder maxMetadataBytes(int maxMetadataBytes) {
      if (maxMetadataBytes <= 0) {
        throw new IllegalArgumentException(
            "maxMetadataBytes: " + maxMetadataBytes + " (expected: > 0)");
      }
      this.maxMetadataBytes = maxMetadataBytes;
      return this;
    }

    /**
     * The most fields, nested ones included, the stream's schema may have. Default {@value
     * ArrowChunkDecoder#DEFAULT_MAX_SCHEMA_FIELDS}.
     */
    public Builder maxSchemaFields(int maxSchemaFields) {
      if (maxSchemaFields <= 0) {
        throw new IllegalArgumentException(
            "maxSchemaFields: " + maxSchemaFields + " (expected: > 0)");
      }
      this.maxSchemaFields = maxSchemaFields;
      return this;
    }

    /**
     * Runs {@code listener} with the stream's schema as soon as it is decoded, before any batch
     * (and so before any memory is taken for one), on the thread calling {@link #nextBatch()}.
     * Use it to refuse input whose schema a consumer cannot use: whatever it throws fails the
     * decoder and propagates from {@link #nextBatch()} unchanged. The schema is the one {@link
     * #root()} has. Default: none.
     */
    public Builder onSchema(SchemaListener listener) {
      this.schemaListener = requireNonNull(listener, "listener");
      return this;
    }

    /** Creates the decoder. */
    public ArrowChunkDecoder build() {
      return new ArrowChunkDecoder(this);
    }
  }
}
