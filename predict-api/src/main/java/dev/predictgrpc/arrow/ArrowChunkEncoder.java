/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;
import org.jspecify.annotations.Nullable;

/**
 * Writes record batches as an Arrow IPC stream and cuts the stream into chunks of bounded size.
 *
 * <p>The stream is what {@code ArrowStreamWriter} would write: the schema, the dictionaries used by
 * dictionary-encoded fields (once, before the first batch), one record batch message per {@link
 * #writeBatch} and, on {@link #end()}, the end-of-stream marker. The encoder cuts a chunk every
 * {@code maxChunkBytes} bytes and at the end of every batch, so the receiver can decode batch
 * <i>i</i> as soon as {@code writeBatch} for it returns.
 *
 * <pre>{@code
 * ArrowChunkEncoder encoder = ArrowChunkEncoder.create(root.getSchema(), null, 1 << 20, chunks::add);
 * encoder.writeBatch(root);
 * encoder.end();
 * }</pre>
 *
 * <p>Memory: the encoder holds at most one chunk of heap memory and no Arrow memory. Each batch's
 * buffers are copied into chunks while {@code writeBatch} runs. To recycle the chunks' arrays
 * instead of leaving them to the garbage collector, create it with a {@link ChunkPool}.
 *
 * <p>Not thread-safe: use one encoder per stream from one thread at a time.
 *
 * @since 0.1
 */
public final class ArrowChunkEncoder {
  /**
   * The default chunk size: 1 MiB, a quarter of gRPC's default 4 MiB inbound message limit.
   *
   * <p>Chosen by measurement ({@code bench --sections stream --chunk-bytes N}, the 128 MB table,
   * two rounds of 5 runs on 2 cores, median MB/s echo / score): 256 KiB 445 / 1078 and 376 / 904,
   * 512 KiB 468 / 999 and 374 / 961, 1 MiB 540 / 1129 and 470 / 1130, 2 MiB 407 / 1175 and 505 /
   * 1157. Smaller chunks cost per-message work; 2 MiB was no faster beyond noise, and it would
   * halve the headroom under the inbound limit and double every pooled array.
   */
  public static final int DEFAULT_MAX_CHUNK_BYTES = 1 << 20;

  /**
   * A record batch's metadata is a flatbuffer of 16 bytes per field node and per buffer plus a
   * header of about a hundred bytes; chunk arrays are sized with this much room for the header, so
   * a small batch lands in one exact array. An underestimate costs one more small array, no more.
   */
  private static final long METADATA_HEADER_ALLOWANCE_BYTES = 512;

  /** The end-of-stream marker: a continuation marker and a zero length. */
  private static final int END_OF_STREAM_BYTES = 8;

  /** Below this, chunking would turn a stream into a flood of tiny messages. */
  static final int MIN_CHUNK_BYTES = 64;

  private final Schema schema;
  private final Schema messageSchema;
  private final @Nullable DictionaryProvider dictionaries;
  private final Set<Long> dictionaryIds;
  private final ChunkingChannel chunks;
  private final RecordBatchWriter batchWriter = new RecordBatchWriter();
  /** {@link #messageSchema}'s IPC message, once looked up: a lookup hashes the whole schema. */
  private byte @Nullable [] schemaMessage;
  private boolean schemaWritten;
  private boolean dictionariesWritten;
  private boolean ended;
  private long batches;
  private long rows;

  private ArrowChunkEncoder(
      Schema schema,
      @Nullable DictionaryProvider dictionaries,
      int maxChunkBytes,
      @Nullable ChunkPool pool,
      PooledChunkSink sink) {
    this.schema = schema;
    this.dictionaries = dictionaries;
    this.chunks = new ChunkingChannel(maxChunkBytes, pool, sink);
    // Checked before toMessageFormat, which would dereference the null provider.
    boolean dictionaryEncoded = isDictionaryEncoded(schema.getFields());
    if (dictionaries == null && dictionaryEncoded) {
      throw new IllegalArgumentException(
          "schema has dictionary-encoded fields but no DictionaryProvider was given");
    }
    if (!dictionaryEncoded) {
      // Without dictionaries the message schema is the schema itself: no per-stream field copies.
      this.dictionaryIds = Set.of();
      this.messageSchema = schema;
      return;
    }
    Set<Long> ids = new LinkedHashSet<>();
    List<Field> messageFields = new ArrayList<>(schema.getFields().size());
    for (Field field : schema.getFields()) {
      messageFields.add(DictionaryUtility.toMessageFormat(field, dictionaries, ids));
    }
    this.dictionaryIds = ids;
    this.messageSchema = new Schema(messageFields, schema.getCustomMetadata());
  }

  /**
   * Creates an encoder for a stream of batches with the given schema.
   *
   * @param schema the schema every batch will have (as {@link VectorSchemaRoot#getSchema()} reports
   *     it; dictionary-encoded fields carry their index type)
   * @param dictionaries supplies the dictionaries of dictionary-encoded fields, or null if there are
   *     none. Borrowed: read during {@link #writeBatch} for the first batch, never closed.
   * @param maxChunkBytes the largest chunk to hand to {@code sink}
   * @param sink receives the chunks, in order, on the calling thread
   * @throws IllegalArgumentException if {@code maxChunkBytes} is smaller than 64, or the schema has
   *     dictionary-encoded fields and {@code dictionaries} is null
   */
  public static ArrowChunkEncoder create(
      Schema schema, @Nullable DictionaryProvider dictionaries, int maxChunkBytes, ChunkSink sink) {
    requireNonNull(sink, "sink");
    checkChunkSize(maxChunkBytes);
    return new ArrowChunkEncoder(
        requireNonNull(schema, "schema"),
        dictionaries,
        maxChunkBytes,
        null,
        (chunk, release) -> sink.accept(chunk));
  }

  /**
   * Creates an encoder whose big chunks are cut into arrays from {@code pool} and only lent to
   * {@code sink}, which gives each back by running its release action; see {@link
   * PooledChunkSink}. Chunks of small batches are fresh arrays whose release does nothing.
   *
   * @param pool supplies arrays of exactly {@code maxChunkBytes}; shared, not owned
   * @throws IllegalArgumentException as {@link #create(Schema, DictionaryProvider, int, ChunkSink)}
   *     does, or if the pool's arrays are not {@code maxChunkBytes} long
   */
  public static ArrowChunkEncoder create(
      Schema schema,
      @Nullable DictionaryProvider dictionaries,
      int maxChunkBytes,
      ChunkPool pool,
      PooledChunkSink sink) {
    requireNonNull(sink, "sink");
    checkChunkSize(maxChunkBytes);
    if (pool.arrayBytes() != maxChunkBytes) {
      throw new IllegalArgumentException(
          "the pool's arrays hold " + pool.arrayBytes() + " bytes, not maxChunkBytes="
              + maxChunkBytes);
    }
    return new ArrowChunkEncoder(
        requireNonNull(schema, "schema"), dictionaries, maxChunkBytes, pool, sink);
  }

  private static void checkChunkSize(int maxChunkBytes) {
    if (maxChunkBytes < MIN_CHUNK_BYTES) {
      throw new IllegalArgumentException(
          "maxChunkBytes: " + maxChunkBytes + " (expected: >= " + MIN_CHUNK_BYTES + ")");
    }
  }

  /**
   * Encodes a whole stream (schema, every batch of {@code root} as it is now, end marker) into one
   * {@link ByteString}, for unary calls. The result is a rope of chunks, so nothing is copied twice.
   *
   * <p>The caller retains ownership of {@code root}; it is not retained after this method returns.
   */
  public static ByteString encodeStream(
      VectorSchemaRoot root, @Nullable DictionaryProvider dictionaries) {
    List<ByteString> parts = new ArrayList<>();
    ArrowChunkEncoder encoder =
        create(root.getSchema(), dictionaries, DEFAULT_MAX_CHUNK_BYTES, parts::add);
    encoder.writeBatch(root);
    encoder.end();
    return concat(parts);
  }

  /** Concatenates chunks into one rope without copying them. */
  static ByteString concat(List<ByteString> parts) {
    ByteString result = ByteString.EMPTY;
    for (ByteString part : parts) {
      result = result.concat(part);
    }
    return result;
  }

  /** The schema batches must have. */
  public Schema schema() {
    return schema;
  }

  /**
   * Writes one record batch (preceded, the first time, by the schema and dictionaries) and hands
   * every chunk it fills to the sink, the last one included.
   *
   * <p>The caller retains ownership of {@code root}; it is not retained after this method returns.
   *
   * @throws IllegalArgumentException if the root's schema differs from {@link #schema()}
   * @throws IllegalStateException if {@link #end()} was called
   */
  public void writeBatch(VectorSchemaRoot root) {
    requireNonNull(root, "root");
    checkNotEnded();
    if (schema != root.getSchema() && !schema.equals(root.getSchema())) {
      throw new IllegalArgumentException(
          "batch schema " + root.getSchema() + " differs from the stream schema " + schema);
    }
    batchWriter.unload(root);
    long batchBytes = batchWriter.metadataEstimate() + batchWriter.bodyLength();
    if (!schemaWritten && dictionaryIds.isEmpty()) {
      // The schema and the first batch share an array: a unary request is then one chunk.
      chunks.expect(schemaMessage().length + batchBytes);
    }
    writeSchemaOnce();
    writeDictionariesOnce();
    chunks.expect(batchBytes);
    batchWriter.write(chunks);
    chunks.flush();
    batches++;
    rows += root.getRowCount();
  }

  /**
   * Writes the stream's opening (the schema and the dictionaries) now and hands it to the sink as
   * chunks of its own, which then hold no batch bytes. A sender that may have to replay the stream
   * to another receiver keeps these chunks to send first. Calling it again, or after a batch, has
   * no effect.
   *
   * @throws IllegalStateException if {@link #end()} was called
   */
  public void writeStart() {
    checkNotEnded();
    writeSchemaOnce();
    writeDictionariesOnce();
    chunks.flush();
  }

  /**
   * Ends the stream: writes the schema if no batch was written, then the end-of-stream marker, and
   * hands the last chunk to the sink. Calling it again has no effect.
   */
  public void end() {
    if (ended) {
      return;
    }
    chunks.expect((schemaWritten ? 0 : schemaMessage().length) + END_OF_STREAM_BYTES);
    writeSchemaOnce();
    IpcFraming.writeEndOfStream(chunks);
    chunks.flush();
    chunks.recycle();
    ended = true;
  }

  /** Bytes handed to the sink so far. */
  public long bytesWritten() {
    return chunks.bytesEmitted();
  }

  /** Batches written so far. */
  public long batchesWritten() {
    return batches;
  }

  /** Rows written so far. */
  public long rowsWritten() {
    return rows;
  }

  private byte[] schemaMessage() {
    byte[] message = schemaMessage;
    if (message == null) {
      message = SchemaMessages.encode(messageSchema);
      schemaMessage = message;
    }
    return message;
  }

  private void writeSchemaOnce() {
    if (!schemaWritten) {
      byte[] message = schemaMessage(); // Padded to a multiple of 8, as every message is.
      chunks.expectAtLeast(message.length);
      chunks.write(message);
      schemaWritten = true;
    }
  }

  /** An upper estimate of the bytes of {@code batch}'s message: its metadata and body. */
  private static long messageEstimate(ArrowRecordBatch batch) {
    return METADATA_HEADER_ALLOWANCE_BYTES
        + 16L * (batch.getNodes().size() + batch.getBuffers().size())
        + 8L * batch.getVariadicBufferCounts().size()
        + batch.computeBodyLength();
  }

  private void writeDictionariesOnce() {
    if (dictionariesWritten) {
      return;
    }
    // Messages so far are whole multiples of 8 bytes, so a channel counting from 0 pads these
    // exactly as one counting from the stream's start would.
    WriteChannel out = new WriteChannel(chunks);
    for (long id : dictionaryIds) {
      Dictionary dictionary = dictionaries.lookup(id);
      if (dictionary == null) {
        throw new IllegalArgumentException("no dictionary with id " + id + " in the provider");
      }
      FieldVector vector = dictionary.getVector();
      VectorSchemaRoot dictionaryRoot =
          new VectorSchemaRoot(List.of(vector.getField()), List.of(vector), vector.getValueCount());
      // Closing the dictionary batch releases the record batch it wraps.
      try (ArrowDictionaryBatch batch =
          new ArrowDictionaryBatch(id, new VectorUnloader(dictionaryRoot).getRecordBatch(), false)) {
        chunks.expect(messageEstimate(batch.getDictionary()));
        MessageSerializer.serialize(out, batch, IpcOption.DEFAULT);
      } catch (IOException e) {
        throw new UncheckedIOException(e); // ChunkingChannel does no I/O; only a sink could throw.
      }
    }
    dictionariesWritten = true;
  }

  /** True if any of {@code fields}, or of their descendants, is dictionary-encoded. */
  static boolean isDictionaryEncoded(List<Field> fields) {
    // Indexed, not iterated: Arrow's field lists are unmodifiable wrappers whose iterators are
    // garbage on every call, and unary calls ask this of every schema they carry.
    for (int i = 0; i < fields.size(); i++) {
      Field field = fields.get(i);
      if (field.getDictionary() != null || isDictionaryEncoded(field.getChildren())) {
        return true;
      }
    }
    return false;
  }

  private void checkNotEnded() {
    if (ended) {
      throw new IllegalStateException("the stream has ended");
    }
  }
}
