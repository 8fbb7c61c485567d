/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static dev.predictgrpc.arrow.ArrowChunkException.Reason.LIMIT_EXCEEDED;
import static dev.predictgrpc.arrow.ArrowChunkException.Reason.MALFORMED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.flatbuffers.FlatBufferBuilder;
import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.IpcBytes.Flatbuf;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.compression.CompressionUtil;
import org.apache.arrow.vector.ipc.message.ArrowBodyCompression;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Malformed and oversized input: the decoder throws {@link ArrowChunkException} and leaks nothing.
 */
class ArrowChunkDecoderErrorTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** A valid stream of all-types batches with {@code rows[i]} rows each, as one ByteString. */
  private ByteString validStream(int... rows) {
    List<ByteString> chunks = new ArrayList<>();
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator())) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(root.getSchema(), null, 1 << 20, chunks::add);
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        encoder.writeBatch(root);
      }
      encoder.end();
    }
    return IpcBytes.concat(chunks);
  }

  /** A stream of one int32 column named {@code x}, one batch of {@code rows} rows. */
  private ByteString intStream(Schema schema, int rows) {
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      root.allocateNew();
      IntVector x = (IntVector) root.getVector(0);
      for (int r = 0; r < rows; r++) {
        x.setSafe(r, r);
      }
      root.setRowCount(rows);
      return ArrowChunkEncoder.encodeStream(root, null);
    }
  }

  private static Schema intSchema() {
    return new Schema(List.of(Field.nullable("x", new ArrowType.Int(32, true))));
  }

  /**
   * Feeds {@code chunks} and calls {@code finish()}, expecting an {@link ArrowChunkException}; then
   * checks the decoder refuses further use and closes cleanly.
   */
  private ArrowChunkException decodeFailure(
      ArrowChunkDecoder.Builder builder, List<ByteString> chunks) {
    ArrowChunkDecoder decoder = builder.build();
    try {
      Throwable thrown =
          catchThrowable(
              () -> {
                for (ByteString chunk : chunks) {
                  decoder.append(chunk);
                  while (decoder.nextBatch()) {
                    // Valid batches before the fault are fine.
                  }
                }
                decoder.finish();
              });
      assertThat(thrown).isInstanceOf(ArrowChunkException.class);
      assertThatThrownBy(decoder::nextBatch)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("failed");
      return (ArrowChunkException) thrown;
    } finally {
      decoder.close();
    }
  }

  private ArrowChunkException decodeFailure(List<ByteString> chunks) {
    return decodeFailure(ArrowChunkDecoder.builder(arrow.allocator()), chunks);
  }

  private ArrowChunkException decodeFailure(ByteString stream) {
    return decodeFailure(List.of(stream));
  }

  @Test
  void randomBytes_areRejected() {
    byte[] garbage = new byte[4096];
    new Random(1).nextBytes(garbage);

    ArrowChunkException e = decodeFailure(ByteString.copyFrom(garbage));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("the input is not an Arrow IPC stream");
  }

  @Test
  void arrowFile_isRecognisedAndRefusedAsNotAStream() {
    ByteString file =
        ByteString.copyFromUtf8("ARROW1\0\0").concat(validStream(3));

    ArrowChunkException e = decodeFailure(file);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("an Arrow IPC file").hasMessageContaining("ArrowStreamWriter");
  }

  @Test
  void jsonText_isNotAnArrowStream() {
    ArrowChunkException e = decodeFailure(ByteString.copyFromUtf8("{\"x\": [1, 2, 3]}"));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("not an Arrow IPC stream");
  }

  @Test
  void randomMetadata_isMalformedOrOverLimit() {
    Random random = new Random(2);
    for (int i = 0; i < 200; i++) {
      byte[] metadata = new byte[8 * (1 + random.nextInt(32))];
      random.nextBytes(metadata);

      ArrowChunkException e =
          decodeFailure(IpcBytes.prefix(metadata.length).concat(ByteString.copyFrom(metadata)));

      // A random flatbuffer can parse as a header with a huge body length, which is a limit.
      assertThat(e.getMessage()).containsAnyOf("malformed", "maxMessageBytes", "Schema", "body");
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 3, 4, 7, 8, 9, 100, -9, -8, -1})
  void truncatedStream_failsOnFinishAsEndedInsideAMessage(int cut) {
    ByteString stream = validStream(10);
    List<ByteString> messages = IpcBytes.messages(stream);
    // Positive cuts fall inside the schema message; negative ones inside the record batch.
    int schemaEnd = messages.get(0).size();
    int position = cut > 0 ? cut : schemaEnd + messages.get(1).size() + cut;

    ArrowChunkException e = decodeFailure(stream.substring(0, position));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("ended inside").hasMessageContaining("truncated");
  }

  @Test
  void endOfStreamBeforeSchema_isMalformed() {
    ArrowChunkException e = decodeFailure(IpcBytes.END_OF_STREAM);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("ended before its schema");
  }

  @Test
  void emptyInput_failsOnFinishAsMissingSchema() {
    ArrowChunkException e = decodeFailure(List.of(ByteString.EMPTY));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("before the Arrow IPC schema");
  }

  @Test
  void recordBatchBeforeSchema_isMalformed() {
    List<ByteString> messages = IpcBytes.messages(validStream(5));

    ArrowChunkException e = decodeFailure(IpcBytes.concat(messages.subList(1, messages.size())));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("must be a Schema").hasMessageContaining("RecordBatch");
  }

  @Test
  void secondSchema_isMalformed() {
    List<ByteString> messages = IpcBytes.messages(validStream(5));

    ArrowChunkException e =
        decodeFailure(IpcBytes.concat(List.of(messages.get(0), messages.get(1), messages.get(0))));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("message 2 is a second schema");
  }

  @Test
  void metadataLengthOverMaxMetadataBytes_exceedsTheLimit() {
    ArrowChunkException e = decodeFailure(IpcBytes.prefix(100_000_000));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e)
        .hasMessageContaining("100000000 bytes of metadata")
        .hasMessageContaining("maxMetadataBytes=4194304");
  }

  @Test
  void metadataLengthOverMaxMessageBytes_exceedsTheLimit() {
    ArrowChunkException e =
        decodeFailure(
            ArrowChunkDecoder.builder(arrow.allocator()).maxMessageBytes(1000),
            List.of(IpcBytes.prefix(100_000)));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e).hasMessageContaining("100000 bytes").hasMessageContaining("maxMessageBytes=1000");
  }

  @Test
  void hugeMetadataLengthUnderAHugeLimit_isTruncatedAtFinish_withoutBufferingAhead() {
    // 2 GiB of metadata cannot be buffered in this JVM's heap: the decoder must not allocate the
    // whole announced length before the bytes arrive.
    ArrowChunkDecoder.Builder builder =
        ArrowChunkDecoder.builder(arrow.allocator())
            .maxMessageBytes(Long.MAX_VALUE)
            .maxMetadataBytes(Integer.MAX_VALUE);

    ArrowChunkException e =
        decodeFailure(
            builder,
            List.of(IpcBytes.prefix(Integer.MAX_VALUE - 7), ByteString.copyFrom(new byte[100])));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("ended inside Arrow IPC message 0");
  }

  @Test
  void negativeMetadataLength_isMalformed() {
    ArrowChunkException e = decodeFailure(IpcBytes.prefix(-16));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("negative metadata length");
  }

  /** The stream's record batch message with its metadata patched by {@code patch}. */
  private ByteString patchedBatchStream(ByteString stream, MetadataPatch patch) {
    List<ByteString> messages = new ArrayList<>(IpcBytes.messages(stream));
    byte[] metadata = IpcBytes.metadata(messages.get(1));
    Flatbuf flatbuf = new Flatbuf(metadata);
    int message = flatbuf.root();
    patch.apply(flatbuf, message, flatbuf.table(message, IpcBytes.MESSAGE_HEADER));
    messages.set(1, IpcBytes.frame(metadata, IpcBytes.body(messages.get(1))));
    return IpcBytes.concat(messages);
  }

  interface MetadataPatch {
    void apply(Flatbuf flatbuf, int message, int header);
  }

  @Test
  void bufferPastTheBodyEnd_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) -> {
              int lastBuffer =
                  fb.buffer().getInt(fb.vector(batch, IpcBytes.RECORD_BATCH_BUFFERS)) - 1;
              int pos = fb.element(batch, IpcBytes.RECORD_BATCH_BUFFERS, lastBuffer, 16);
              fb.buffer().putLong(pos + 8, fb.buffer().getLong(pos + 8) + 4096);
            });

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("record batch 0: buffer").hasMessageContaining("body has");
  }

  @Test
  void bufferWithHugeOffset_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) ->
                fb.buffer()
                    .putLong(
                        fb.element(batch, IpcBytes.RECORD_BATCH_BUFFERS, 1, 16), Long.MAX_VALUE));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("buffer 1");
  }

  @Test
  void bufferPastTheBodyEnd_builtWithArrowsSerializer_isMalformed() {
    // The same fault built without patching: metadata that declares a shorter body than its
    // buffers need, followed by that shorter body.
    ByteString stream = intStream(intSchema(), 64);
    List<ByteString> messages = IpcBytes.messages(stream);
    ByteBuffer metadata;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(intSchema(), arrow.allocator())) {
      IntVector x = (IntVector) root.getVector(0);
      x.allocateNew(64);
      x.setValueCount(64);
      root.setRowCount(64);
      try (ArrowRecordBatch batch = new VectorUnloader(root).getRecordBatch()) {
        FlatBufferBuilder builder = new FlatBufferBuilder();
        int header = batch.writeTo(builder);
        metadata =
            MessageSerializer.serializeMessage(
                builder, MessageHeader.RecordBatch, header, 64, IpcOption.DEFAULT);
      }
    }
    ByteString shortBatch = IpcBytes.frame(metadata, ByteString.copyFrom(new byte[64]));

    ArrowChunkException e =
        decodeFailure(
            IpcBytes.concat(List.of(messages.get(0), shortBatch, IpcBytes.END_OF_STREAM)));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("buffer").hasMessageContaining("64 bytes");
  }

  @Test
  void negativeBodyLength_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) ->
                fb.buffer().putLong(fb.field(message, IpcBytes.MESSAGE_BODY_LENGTH), -8));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("negative body length");
  }

  @Test
  void bodyLengthNearLongMax_exceedsTheLimit() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) ->
                fb.buffer()
                    .putLong(fb.field(message, IpcBytes.MESSAGE_BODY_LENGTH), Long.MAX_VALUE - 8));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e).hasMessageContaining("maxMessageBytes");
  }

  @Test
  void fieldNodeWithMoreNullsThanValues_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) -> {
              int node = fb.element(batch, IpcBytes.RECORD_BATCH_NODES, 2, 16);
              fb.buffer().putLong(node + 8, 11);
            });

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("invalid field node 2");
  }

  @Test
  void hugeFieldNodeCount_isMalformed_notAnOutOfMemoryError() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) ->
                fb.buffer()
                    .putInt(fb.vector(batch, IpcBytes.RECORD_BATCH_NODES), Integer.MAX_VALUE));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
  }

  @Test
  void hugeBufferCount_isMalformed_notAnOutOfMemoryError() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) ->
                fb.buffer()
                    .putInt(fb.vector(batch, IpcBytes.RECORD_BATCH_BUFFERS), Integer.MAX_VALUE));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
  }

  @Test
  void dataAfterEndOfStream_inALaterChunk_isMalformed() {
    ByteString stream = validStream(3);

    ArrowChunkException e = decodeFailure(List.of(stream, ByteString.copyFrom(new byte[] {1})));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("after the Arrow IPC end-of-stream marker");
  }

  @Test
  void dataAfterEndOfStream_inTheSameChunk_isMalformed() {
    ByteString stream = validStream(3).concat(ByteString.copyFrom(new byte[] {1, 2, 3}));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("after the Arrow IPC end-of-stream marker");
  }

  @Test
  void batchOverMaxBatchRows_exceedsTheLimit() {
    ArrowChunkException e =
        decodeFailure(
            ArrowChunkDecoder.builder(arrow.allocator()).maxBatchRows(99),
            List.of(validStream(99, 100)));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e)
        .hasMessageContaining("record batch 1 has 100 rows")
        .hasMessageContaining("maxBatchRows=99");
  }

  @Test
  void messageOverMaxMessageBytes_exceedsTheLimit() {
    ByteString stream = validStream(10, 1000);
    long bigMessage = IpcBytes.messages(stream).get(2).size();

    ArrowChunkException e =
        decodeFailure(
            ArrowChunkDecoder.builder(arrow.allocator()).maxMessageBytes(bigMessage - 9),
            List.of(stream));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e)
        .hasMessageContaining("Arrow IPC message 2")
        .hasMessageContaining("maxMessageBytes=" + (bigMessage - 9));
  }

  @Test
  void streamOverMaxStreamBytes_exceedsTheLimit() {
    ByteString stream = validStream(10, 10);

    ArrowChunkException e =
        decodeFailure(
            ArrowChunkDecoder.builder(arrow.allocator()).maxStreamBytes(stream.size() - 1),
            IpcBytes.cut(stream, 100));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e).hasMessageContaining("maxStreamBytes=" + (stream.size() - 1));
  }

  @Test
  void streamOfExactlyMaxStreamBytes_isAccepted() {
    ByteString stream = validStream(10, 10);

    int batches =
        IpcBytes.decodeAll(
            ArrowChunkDecoder.builder(arrow.allocator()).maxStreamBytes(stream.size()),
            IpcBytes.cut(stream, 100),
            (decoder, i) -> {});

    assertThat(batches).isEqualTo(2);
  }

  @Test
  void recordBatchOfAnotherSchema_isMalformed() {
    Schema twoColumns =
        new Schema(
            List.of(
                Field.nullable("x", new ArrowType.Int(32, true)),
                Field.nullable("y", ArrowType.Utf8.INSTANCE)));
    List<ByteString> schemaB = IpcBytes.messages(intStream(twoColumns, 0));
    List<ByteString> streamA = IpcBytes.messages(intStream(intSchema(), 10));

    ArrowChunkException e =
        decodeFailure(IpcBytes.concat(List.of(schemaB.get(0), streamA.get(1), streamA.get(2))));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e)
        .hasMessageContaining("record batch 0")
        .hasMessageContaining("1 field nodes")
        .hasMessageContaining("schema has 2");
  }

  @Test
  void recordBatchWithMoreFieldNodesThanTheSchema_isMalformed() {
    List<ByteString> oneColumn = IpcBytes.messages(intStream(intSchema(), 0));
    List<ByteString> allTypes = IpcBytes.messages(validStream(4));

    ArrowChunkException e =
        decodeFailure(IpcBytes.concat(List.of(oneColumn.get(0), allTypes.get(1))));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("record batch 0 has 18 field nodes");
  }

  @Test
  void plainBodyMarkedCompressed_isRefused() {
    ByteString stream = intStream(intSchema(), 8);
    List<ByteString> messages = IpcBytes.messages(stream);
    ByteBuffer metadata;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(intSchema(), arrow.allocator())) {
      ((IntVector) root.getVector(0)).allocateNew(8);
      root.setRowCount(8);
      VectorUnloader unloader = new VectorUnloader(root);
      try (ArrowRecordBatch plain = unloader.getRecordBatch();
          ArrowRecordBatch compressed =
              new ArrowRecordBatch(
                  8,
                  plain.getNodes(),
                  plain.getBuffers(),
                  new ArrowBodyCompression(
                      CompressionUtil.CodecType.LZ4_FRAME.getType(),
                      org.apache.arrow.flatbuf.BodyCompressionMethod.BUFFER))) {
        FlatBufferBuilder builder = new FlatBufferBuilder();
        int header = compressed.writeTo(builder);
        metadata =
            MessageSerializer.serializeMessage(
                builder,
                MessageHeader.RecordBatch,
                header,
                IpcBytes.body(messages.get(1)).size(),
                IpcOption.DEFAULT);
      }
    }
    ByteString compressedBatch = IpcBytes.frame(metadata, IpcBytes.body(messages.get(1)));

    ArrowChunkException e =
        decodeFailure(IpcBytes.concat(List.of(messages.get(0), compressedBatch)));

    // Its buffers lack the uncompressed-length prefixes, so they read as garbage lengths.
    assertThat(e).hasMessageContaining("record batch 0").hasMessageContaining("compress");
  }

  @Test
  void unsupportedMessageType_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            validStream(10),
            (fb, message, batch) -> fb.buffer().put(fb.field(message, 1), MessageHeader.Tensor));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("unsupported type Tensor");
  }

  @Test
  void dictionaryBatchForAnUnknownId_isMalformed() {
    List<ByteString> plain = IpcBytes.messages(intStream(intSchema(), 3));
    ByteString dictionaryStream;
    org.apache.arrow.vector.dictionary.Dictionary dictionary =
        TestData.dictionary(arrow.allocator());
    try (org.apache.arrow.vector.ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 3)) {
      dictionaryStream = ArrowChunkEncoder.encodeStream(root, TestData.provider(dictionary));
    }
    ByteString dictionaryBatch = IpcBytes.messages(dictionaryStream).get(1);

    ArrowChunkException e = decodeFailure(IpcBytes.concat(List.of(plain.get(0), dictionaryBatch)));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("dictionary batch for id " + TestData.DICTIONARY_ID);
  }

  @Test
  void decoderAfterFailure_refusesEveryCall() {
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    try {
      decoder.append(IpcBytes.END_OF_STREAM);
      assertThatThrownBy(decoder::nextBatch).isInstanceOf(ArrowChunkException.class);

      assertThatThrownBy(decoder::nextBatch).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> decoder.append(IpcBytes.END_OF_STREAM))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("failed on earlier input");
      assertThatThrownBy(decoder::finish).isInstanceOf(IllegalStateException.class);
    } finally {
      decoder.close();
      decoder.close(); // Idempotent.
    }
    assertThatThrownBy(decoder::nextBatch)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void finishWithInputStillQueued_isAnIllegalState() {
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      decoder.append(validStream(3));

      assertThatThrownBy(decoder::finish)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("nextBatch()");
    }
  }

  @Test
  void messageOverTheAllocatorLimit_exceedsTheLimit() {
    ByteString stream = validStream(2000);
    try (BufferAllocator small = arrow.allocator().newChildAllocator("small", 0, 16 * 1024)) {
      ArrowChunkException e =
          decodeFailure(ArrowChunkDecoder.builder(small), IpcBytes.cut(stream, 1000));

      assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
      assertThat(e)
          .hasMessageContaining("Arrow IPC message 1")
          .hasMessageContaining("memory limit");
      assertThat(small.getAllocatedMemory()).isZero();
    }
  }

  /** An int32 batch of 8 rows patched to declare {@code rows} rows; optionally no validity. */
  private ByteString batchDeclaring(long rows, boolean dropValidity) {
    return patchedBatchStream(
        intStream(intSchema(), 8),
        (fb, message, batch) -> {
          fb.buffer().putLong(fb.field(batch, IpcBytes.RECORD_BATCH_LENGTH), rows);
          int node = fb.element(batch, IpcBytes.RECORD_BATCH_NODES, 0, 16);
          fb.buffer().putLong(node, rows);
          fb.buffer().putLong(node + 8, 0);
          if (dropValidity) {
            int validity = fb.element(batch, IpcBytes.RECORD_BATCH_BUFFERS, 0, 16);
            fb.buffer().putLong(validity + 8, 0); // Allowed when there are no nulls.
          }
        });
  }

  @Test
  void batchDeclaringMoreRowsThanItsBuffersHold_isMalformed() {
    ArrowChunkException e = decodeFailure(batchDeclaring(100_000_000, false));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e)
        .hasMessageContaining("record batch 0: column x is invalid")
        .hasMessageContaining("its validity buffer has 1 bytes for 100000000 values");
  }

  @Test
  void batchDeclaringMoreRowsThanItsBuffersHold_leaksNothingAtAnySize() {
    // Arrow's VectorLoader would grow the short buffers to the declared count, and growing can
    // fail halfway and leak; every size must be refused cleanly.
    for (long rows : new long[] {9, 17, 33, 100, 1000, 1 << 20}) {
      for (boolean dropValidity : new boolean[] {false, true}) {
        ArrowChunkException e = decodeFailure(batchDeclaring(rows, dropValidity));

        assertThat(e.reason()).as("%s rows", rows).isEqualTo(MALFORMED);
        assertThat(arrow.allocator().getAllocatedMemory()).isZero();
      }
    }
  }

  @Test
  void validityBufferTooShortForItsColumn_isMalformed_andLeaksNothing() {
    // Arrow's VectorLoader would grow the column from the short validity buffer's capacity, and
    // that growth fails halfway (copying the longer data buffer into a smaller new one), leaking
    // the new buffers. The decoder validates before anything grows.
    ByteString stream =
        patchedBatchStream(
            intStream(intSchema(), 300),
            (fb, message, batch) -> {
              int validity = fb.element(batch, IpcBytes.RECORD_BATCH_BUFFERS, 0, 16);
              fb.buffer().putLong(validity + 8, 1);
            });

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("record batch 0: column x is invalid");
  }

  @Test
  void batchWhoseColumnLengthDiffersFromItsRowCount_isMalformed() {
    ByteString stream =
        patchedBatchStream(
            intStream(intSchema(), 8),
            (fb, message, batch) ->
                fb.buffer().putLong(fb.field(batch, IpcBytes.RECORD_BATCH_LENGTH), 4));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("record batch 0 has 4 rows but its field node 0 declares 8");
  }

  @Test
  void tinyBatchDeclaringRowsItDoesNotCarry_isRefusedBeforeAnythingIsAllocatedForThem() {
    // Without a validity buffer, Arrow allocates one sized from the declared row count, so a
    // small message could ask for far more memory than it carries: 12.5 MB here for 100 bytes.
    ByteString stream = batchDeclaring(100_000_000, true);
    try (BufferAllocator tracked = arrow.allocator().newChildAllocator("tracked", 0, 1L << 30)) {
      ArrowChunkException e = decodeFailure(ArrowChunkDecoder.builder(tracked), List.of(stream));

      assertThat(e.reason()).isEqualTo(MALFORMED);
      assertThat(e)
          .hasMessageContaining("record batch 0")
          .hasMessageContaining("validity bitmaps would take 12500000 bytes");
      assertThat(tracked.getAllocatedMemory()).isZero();
      assertThat(tracked.getPeakMemoryAllocation()).isLessThan(64 << 10);
    }
  }

  @Test
  void listWithDecreasingOffsets_isMalformed() {
    Schema schema =
        new Schema(
            List.of(
                new Field(
                    "l",
                    FieldType.nullable(ArrowType.List.INSTANCE),
                    List.of(Field.nullable("item", new ArrowType.Int(32, true))))));
    ByteString stream;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      ListVector list = (ListVector) root.getVector(0);
      IntVector items = (IntVector) list.getDataVector();
      for (int r = 0; r < 4; r++) {
        int start = list.startNewValue(r);
        items.setSafe(start, r);
        items.setSafe(start + 1, r);
        list.endValue(r, 2);
      }
      root.setRowCount(4);
      stream = ArrowChunkEncoder.encodeStream(root, null);
    }
    List<ByteString> messages = new ArrayList<>(IpcBytes.messages(stream));
    byte[] metadata = IpcBytes.metadata(messages.get(1));
    Flatbuf fb = new Flatbuf(metadata);
    int batch = fb.table(fb.root(), IpcBytes.MESSAGE_HEADER);
    long offsetsAt = fb.buffer().getLong(fb.element(batch, IpcBytes.RECORD_BATCH_BUFFERS, 1, 16));
    byte[] body = IpcBytes.body(messages.get(1)).toByteArray();
    // Offsets 0,2,4,6,8 become 0,2,7,6,8: only the last is checked by validate(), yet reading
    // row 2 would run to index 6 of a list whose next row starts at 7.
    ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt((int) offsetsAt + 8, 7);
    messages.set(1, IpcBytes.frame(metadata, ByteString.copyFrom(body)));

    ArrowChunkException e = decodeFailure(IpcBytes.concat(messages));

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e)
        .hasMessageContaining("record batch 0: the offsets of column l decrease at index 3");
  }

  /** A schema message whose only field is a struct; {@code patch} edits its flatbuffer. */
  private ByteString patchedSchema(Schema schema, SchemaPatch patch) {
    ByteString stream;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      root.setRowCount(0);
      stream = ArrowChunkEncoder.encodeStream(root, null);
    }
    byte[] metadata = IpcBytes.metadata(IpcBytes.messages(stream).get(0));
    Flatbuf fb = new Flatbuf(metadata);
    int header = fb.table(fb.root(), IpcBytes.MESSAGE_HEADER);
    patch.apply(fb, fb.tableElement(header, IpcBytes.SCHEMA_FIELDS, 0));
    return IpcBytes.frame(metadata, ByteString.EMPTY);
  }

  interface SchemaPatch {
    void apply(Flatbuf flatbuf, int firstField);
  }

  /** Makes child {@code i} of the struct field at {@code field} refer to {@code target}. */
  private static void pointChild(Flatbuf fb, int field, int i, int target) {
    int element = fb.element(field, IpcBytes.FIELD_CHILDREN, i, 4);
    fb.buffer().putInt(element, target - element);
  }

  private static Field nestedStructs(int depth) {
    Field field = Field.nullable("leaf", new ArrowType.Int(32, true));
    for (int d = 0; d < depth; d++) {
      field =
          new Field(
              "s" + d,
              FieldType.nullable(ArrowType.Struct.INSTANCE),
              List.of(field, Field.nullable("i" + d, new ArrowType.Int(32, true))));
    }
    return field;
  }

  @Test
  void schemaWhoseFieldIsItsOwnChild_isMalformed_notAStackOverflow() {
    ByteString schema =
        patchedSchema(new Schema(List.of(nestedStructs(1))), (fb, s) -> pointChild(fb, s, 0, s));

    ArrowChunkException e = decodeFailure(schema);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("Arrow IPC schema has more fields than its metadata");
  }

  @Test
  void schemaNestedDeeperThan64Levels_isMalformed() {
    ByteString stream;
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(new Schema(List.of(nestedStructs(64))), arrow.allocator())) {
      root.setRowCount(0);
      stream = ArrowChunkEncoder.encodeStream(root, null);
    }

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("nested more than 64 levels deep");
  }

  @Test
  void schemaWhoseFieldsShareChildren_isMalformed_notAnExponentialWalk() {
    // Forty levels whose two children both point at the next level: 2^40 fields to convert.
    ByteString schema =
        patchedSchema(
            new Schema(List.of(nestedStructs(40))),
            (fb, top) -> {
              for (int level = top, d = 0; d < 40; d++) {
                int next = fb.tableElement(level, IpcBytes.FIELD_CHILDREN, 0);
                pointChild(fb, level, 1, next);
                level = next;
              }
            });

    ArrowChunkException e = decodeFailure(schema);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("Arrow IPC schema has more fields than its metadata");
  }

  @Test
  void schemaNested64LevelsDeep_isAccepted() {
    Schema schema = new Schema(List.of(nestedStructs(63))); // 63 structs over a leaf: 64 levels.
    ByteString stream;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      root.setRowCount(0);
      stream = ArrowChunkEncoder.encodeStream(root, null);
    }

    int batches = IpcBytes.decodeAll(arrow.allocator(), List.of(stream), (decoder, i) -> {});

    assertThat(batches).isEqualTo(1);
  }

  @Test
  void headerListingMillionsOfBuffers_isRefusedBeforeTheyAreSliced() {
    ByteString stream =
        patchedBatchStream(
            intStream(intSchema(), 8),
            (fb, message, batch) ->
                fb.buffer().putInt(fb.vector(batch, IpcBytes.RECORD_BATCH_BUFFERS), 3_900_000));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e).hasMessageContaining("record batch 0 lists 3900000 buffers but its schema needs 2");
  }

  @Test
  void bodyLengthNearLongMax_isOverTheLimit_withoutANegativeSize() {
    ByteString stream =
        patchedBatchStream(
            intStream(intSchema(), 8),
            (fb, message, batch) ->
                fb.buffer().putLong(fb.field(message, IpcBytes.MESSAGE_BODY_LENGTH), Long.MAX_VALUE));

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e)
        .hasMessageContaining("a body of " + Long.MAX_VALUE + " bytes")
        .hasMessageContaining("maxMessageBytes")
        .hasMessageNotContaining("-");
  }

  @Test
  void schemaWithMoreFieldsThanAllowed_exceedsMaxSchemaFields() {
    List<Field> fields = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      fields.add(Field.nullable("c" + i, new ArrowType.Int(32, true)));
    }
    ByteString stream = intStream(new Schema(fields), 1);

    ArrowChunkException e =
        decodeFailure(
            ArrowChunkDecoder.builder(arrow.allocator()).maxSchemaFields(10), List.of(stream));

    assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED);
    assertThat(e).hasMessageContaining("maxSchemaFields=10");
  }

  @Test
  void announcedBodyThatNeverArrives_holdsOnlyTheBytesSent() {
    // A 60 MiB body is announced and 600 bytes of it sent: nothing is allocated for the rest.
    ByteString stream = intStream(intSchema(), 15 << 20);
    ByteString schemaAndStart = stream.substring(0, IpcBytes.messages(stream).get(0).size() + 1000);
    try (BufferAllocator tracked = arrow.allocator().newChildAllocator("tracked", 0, 1L << 30);
        ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(tracked).build()) {
      decoder.append(schemaAndStart);

      assertThat(decoder.nextBatch()).isFalse();
      assertThat(tracked.getAllocatedMemory())
          .as("only the queued input is counted, in 4 KiB granules")
          .isLessThanOrEqualTo(8192);
      assertThat(tracked.getPeakMemoryAllocation()).isLessThanOrEqualTo(8192);
      assertThatThrownBy(decoder::finish).hasMessageContaining("truncated stream");
    }
  }

  @Test
  void inputHeldForAnIncompleteBody_countsAgainstTheAllocatorLimit() {
    ByteString stream = intStream(intSchema(), 1 << 20); // A 4 MiB body.
    List<ByteString> chunks = IpcBytes.cut(stream, 256 << 10);
    try (BufferAllocator small = arrow.allocator().newChildAllocator("small", 0, 1 << 20);
        ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(small).build()) {
      ArrowChunkException refused = null;
      int appended = 0;
      try {
        for (ByteString chunk : chunks) {
          decoder.append(chunk);
          appended++;
          assertThat(decoder.nextBatch()).isFalse();
        }
      } catch (ArrowChunkException e) {
        refused = e;
      }

      assertThat(refused).isNotNull();
      assertThat(refused.reason()).isEqualTo(LIMIT_EXCEEDED);
      assertThat(refused).hasMessageContaining("memory limit of 1048576 bytes");
      assertThat(refused.refusingAllocator()).isSameAs(small);
      assertThat(appended).as("refused as soon as the held input passed 1 MiB").isLessThan(5);
      assertThat(small.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void schemaListener_runsBeforeAnyBatch_andItsRefusalPropagatesUnchanged() {
    ByteString stream = intStream(intSchema(), 1000);
    IllegalArgumentException refusal = new IllegalArgumentException("no int columns here");
    List<Schema> seen = new ArrayList<>();
    try (BufferAllocator tracked = arrow.allocator().newChildAllocator("tracked", 0, 1L << 30);
        ArrowChunkDecoder decoder =
            ArrowChunkDecoder.builder(tracked)
                .onSchema(
                    (schema, dictionaries) -> {
                      seen.add(schema);
                      throw refusal;
                    })
                .build()) {
      decoder.append(stream);

      assertThatThrownBy(decoder::nextBatch).isSameAs(refusal);
      assertThat(seen).hasSize(1);
      assertThat(seen.get(0).getFields()).extracting(Field::getName).containsExactly("x");
      assertThat(decoder.batchesDecoded()).isZero();
      assertThatThrownBy(decoder::nextBatch).hasMessageContaining("failed");
    }
  }

  @Test
  void dictionaryIndexOutsideItsDictionary_isMalformed() {
    ByteString stream;
    org.apache.arrow.vector.dictionary.Dictionary dictionary =
        TestData.dictionary(arrow.allocator());
    try (org.apache.arrow.vector.ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 8)) {
      ((IntVector) root.getVector("word")).set(2, 99);
      stream = ArrowChunkEncoder.encodeStream(root, TestData.provider(dictionary));
    }

    ArrowChunkException e = decodeFailure(stream);

    assertThat(e.reason()).isEqualTo(MALFORMED);
    assertThat(e)
        .hasMessageContaining("column word has dictionary index 99 at row 2")
        .hasMessageContaining("outside its dictionary of 4 values");
  }
}
