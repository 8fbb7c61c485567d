/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static dev.predictgrpc.arrow.TestData.assertSameBatch;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.compare.VectorEqualsVisitor;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.DictionaryUtility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Round trips through {@link ArrowChunkEncoder} and {@link ArrowChunkDecoder}. */
class ArrowChunkCodecRoundTripTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Rows per batch of the multi-batch stream: empty and single-row batches included. */
  private static final int[] BATCH_ROWS = {100, 0, 1, 37, 513, 2};

  /** Encodes one batch per entry of {@code rows}, batch i filled with seed i. */
  private IpcBytes.Encoded encodeAllTypes(int maxChunkBytes, int... rows) {
    IpcBytes.Encoded encoded = new IpcBytes.Encoded();
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator())) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(root.getSchema(), null, maxChunkBytes, encoded.chunks::add);
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        encoder.writeBatch(root);
        encoded.chunkEnds.add(encoded.chunks.size());
      }
      encoder.end();
      assertThat(encoder.batchesWritten()).isEqualTo(rows.length);
      assertThat(encoder.rowsWritten()).isEqualTo(sum(rows));
      assertThat(encoder.bytesWritten()).isEqualTo(encoded.stream().size());
    }
    return encoded;
  }

  /** Decodes {@code chunks} and checks batch i equals {@code fill(i, rows[i])}. */
  private void assertDecodesToAllTypes(List<ByteString> chunks, int... rows) {
    int batches =
        IpcBytes.decodeAll(
            arrow.allocator(),
            chunks,
            (decoder, i) -> {
              try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), i, rows[i])) {
                assertSameBatch(decoder.root(), expected);
              }
            });
    assertThat(batches).isEqualTo(rows.length);
  }

  @ParameterizedTest
  @ValueSource(ints = {64, 65, 100, 256, 4096, ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES})
  void allTypesWithNulls_roundTripAtEveryChunkSize(int maxChunkBytes) {
    IpcBytes.Encoded encoded = encodeAllTypes(maxChunkBytes, BATCH_ROWS);

    assertThat(encoded.chunks)
        .allSatisfy(chunk -> assertThat(chunk.size()).isBetween(1, maxChunkBytes));
    assertDecodesToAllTypes(encoded.chunks, BATCH_ROWS);
  }

  @Test
  void zeroRowBatch_roundTrips() {
    IpcBytes.Encoded encoded = encodeAllTypes(64, 0);

    assertDecodesToAllTypes(encoded.chunks, 0);
  }

  @Test
  void batchSpanningManyChunks_roundTrips() {
    IpcBytes.Encoded encoded = encodeAllTypes(ArrowChunkEncoder.MIN_CHUNK_BYTES, 2000);

    assertThat(encoded.chunkEnds.get(0)).isGreaterThan(1000);
    assertDecodesToAllTypes(encoded.chunks, 2000);
  }

  @ParameterizedTest
  @ValueSource(ints = {64, 200, 1 << 16})
  void eachBatchEndsAChunk_soItDecodesFromTheChunksWrittenSoFar(int maxChunkBytes) {
    IpcBytes.Encoded encoded = encodeAllTypes(maxChunkBytes, BATCH_ROWS);

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      int from = 0;
      for (int i = 0; i < BATCH_ROWS.length; i++) {
        int to = encoded.chunkEnds.get(i);
        for (int c = from; c < to; c++) {
          // Until the batch's last chunk arrives, the batch is incomplete.
          assertThat(decoder.nextBatch()).isFalse();
          decoder.append(encoded.chunks.get(c));
        }
        assertThat(decoder.nextBatch()).as("batch %s", i).isTrue();
        try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), i, BATCH_ROWS[i])) {
          assertSameBatch(decoder.root(), expected);
        }
        assertThat(decoder.nextBatch()).isFalse();
        from = to;
      }
      for (int c = from; c < encoded.chunks.size(); c++) {
        decoder.append(encoded.chunks.get(c));
      }
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(decoder.isEndOfStream()).isTrue();
      decoder.finish();
      assertThat(decoder.batchesDecoded()).isEqualTo(BATCH_ROWS.length);
      assertThat(decoder.rowsDecoded()).isEqualTo(sum(BATCH_ROWS));
      assertThat(decoder.bytesReceived()).isEqualTo(encoded.stream().size());
    }
  }

  @Test
  void batchSmallerThanAChunk_isExactlyOneChunk() {
    int[] rows = {10, 0, 20};
    IpcBytes.Encoded encoded = encodeAllTypes(ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES, rows);

    // The first chunk holds the schema and batch 0; then one chunk per batch and one for the end.
    assertThat(encoded.chunkEnds).containsExactly(1, 2, 3);
    assertThat(encoded.chunks).hasSize(4);
    assertThat(encoded.chunks.get(3)).isEqualTo(IpcBytes.END_OF_STREAM);
    for (int i = 0; i < rows.length; i++) {
      // Chunk 0 carries the schema, so every batch's own chunk is decoded after it.
      List<ByteString> chunks =
          i == 0
              ? List.of(encoded.chunks.get(0))
              : List.of(encoded.chunks.get(0), encoded.chunks.get(i));
      int batch = i;
      int batches =
          IpcBytes.decodeAll(
              arrow.allocator(),
              chunks,
              (decoder, n) -> {
                int seed = n == 0 ? 0 : batch;
                try (VectorSchemaRoot expected =
                    TestData.allTypes(arrow.allocator(), seed, rows[seed])) {
                  assertSameBatch(decoder.root(), expected);
                }
              });
      assertThat(batches).isEqualTo(chunks.size());
    }
  }

  @Test
  void oneByteChunks_decodeIdentically() {
    ByteString stream = encodeAllTypes(1 << 20, BATCH_ROWS).stream();

    assertDecodesToAllTypes(IpcBytes.cut(stream, 1), BATCH_ROWS);
  }

  @Test
  void randomChunkSizes_decodeIdentically() {
    ByteString stream = encodeAllTypes(64, BATCH_ROWS).stream();
    Random random = new Random(42);

    for (int round = 0; round < 30; round++) {
      int maxSize = new int[] {3, 17, 300, 5000}[round % 4];
      assertDecodesToAllTypes(IpcBytes.cutRandomly(stream, random, maxSize), BATCH_ROWS);
    }
  }

  @Test
  void everyCutPosition_decodesIdentically() {
    // Small enough to try every position: cuts inside each prefix, metadata and body.
    ByteString stream = encodeAllTypes(1 << 20, 3, 1).stream();

    for (int position = 1; position < stream.size(); position++) {
      assertDecodesToAllTypes(IpcBytes.cutAt(stream, position), 3, 1);
    }
  }

  @Test
  void streamWithoutBatches_hasSchemaAndNoBatches() {
    List<ByteString> chunks = new ArrayList<>();
    ArrowChunkEncoder encoder =
        ArrowChunkEncoder.create(TestData.allTypesSchema(), null, 64, chunks::add);
    encoder.end();

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      for (ByteString chunk : chunks) {
        decoder.append(chunk);
      }
      assertThat(decoder.nextBatch()).isFalse();
      decoder.finish();
      assertThat(decoder.isEndOfStream()).isTrue();
      assertThat(decoder.schema()).isEqualTo(TestData.allTypesSchema());
      assertThat(decoder.root().getRowCount()).isZero();
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 64, 1 << 20})
  void dictionaryEncodedColumn_roundTripsWithItsDictionary(int recut) {
    List<ByteString> chunks = new ArrayList<>();
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 50);
        VectorSchemaRoot second = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 2, 9)) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(
              root.getSchema(), TestData.provider(dictionary), 64, chunks::add);
      encoder.writeBatch(root);
      encoder.writeBatch(second);
      encoder.end();
    }
    assertThat(chunks).allSatisfy(chunk -> assertThat(chunk.size()).isLessThanOrEqualTo(64));
    ByteString stream = IpcBytes.concat(chunks);

    int batches =
        IpcBytes.decodeAll(
            arrow.allocator(),
            IpcBytes.cut(stream, recut),
            (decoder, i) -> assertDecodedWords(decoder, i + 1, i == 0 ? 50 : 9));

    assertThat(batches).isEqualTo(2);
  }

  /** Checks the decoder's current batch decodes back to {@code TestData.words(seed, rows)}. */
  private void assertDecodedWords(ArrowChunkDecoder decoder, long seed, int rows) {
    BufferAllocator allocator = arrow.allocator();
    FieldVector encoded = decoder.root().getVector("word");
    long id = encoded.getField().getDictionary().getId();
    assertThat(id).isEqualTo(TestData.DICTIONARY_ID);
    Dictionary dictionary = decoder.dictionaries().lookup(id);
    assertThat(dictionary).isNotNull();
    assertThat(decoder.dictionaries().getDictionaryIds()).containsExactly(TestData.DICTIONARY_ID);
    try (VarCharVector expectedWords = dictionaryWords(allocator);
        ValueVector decoded = DictionaryEncoder.decode(encoded, dictionary);
        VarCharVector expected = TestData.words(allocator, seed, rows)) {
      assertThat(
              VectorEqualsVisitor.vectorEquals(
                  dictionary.getVector(), expectedWords, (a, b) -> true))
          .as("dictionary %s", dictionary.getVector())
          .isTrue();
      assertThat(decoded.getValueCount()).isEqualTo(rows);
      assertThat(VectorEqualsVisitor.vectorEquals(decoded, expected, (a, b) -> true))
          .as("decoded %s expected %s", decoded, expected)
          .isTrue();
    }
    IntVector n = (IntVector) decoder.root().getVector("n");
    for (int r = 0; r < rows; r++) {
      assertThat(n.get(r)).isEqualTo(r * 3);
    }
  }

  private static VarCharVector dictionaryWords(BufferAllocator allocator) {
    VarCharVector words = new VarCharVector("words", allocator);
    words.allocateNew();
    for (int i = 0; i < TestData.DICTIONARY_WORDS.size(); i++) {
      words.setSafe(i, TestData.DICTIONARY_WORDS.get(i).getBytes(StandardCharsets.UTF_8));
    }
    words.setValueCount(TestData.DICTIONARY_WORDS.size());
    return words;
  }

  @Test
  void deltaAndReplacementDictionaries_updateTheDecodedDictionary() throws IOException {
    BufferAllocator allocator = arrow.allocator();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    WriteChannel out = new WriteChannel(Channels.newChannel(bytes));
    Dictionary dictionary = TestData.dictionary(allocator);
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(allocator, dictionary, 1, 5);
        VarCharVector delta = varchar(allocator, "epsilon", "zeta");
        VarCharVector replacement = varchar(allocator, "one", "two", "three", "four")) {
      List<Field> messageFields = new ArrayList<>();
      for (Field field : root.getSchema().getFields()) {
        messageFields.add(
            DictionaryUtility.toMessageFormat(
                field, TestData.provider(dictionary), new HashSet<>()));
      }
      MessageSerializer.serialize(out, new Schema(messageFields), IpcOption.DEFAULT);
      writeDictionary(out, (VarCharVector) dictionary.getVector(), false);
      writeBatch(out, root);
      writeDictionary(out, delta, true);
      writeBatch(out, root);
      writeDictionary(out, replacement, false);
      writeBatch(out, root);
    }
    ByteString stream = ByteString.copyFrom(bytes.toByteArray()).concat(IpcBytes.END_OF_STREAM);
    List<List<String>> dictionaries = new ArrayList<>();

    int batches =
        IpcBytes.decodeAll(
            allocator,
            IpcBytes.cut(stream, 7),
            (decoder, i) -> {
              VarCharVector words =
                  (VarCharVector) decoder.dictionaries().lookup(TestData.DICTIONARY_ID).getVector();
              List<String> values = new ArrayList<>();
              for (int r = 0; r < words.getValueCount(); r++) {
                values.add(words.getObject(r).toString());
              }
              dictionaries.add(values);
            });

    assertThat(batches).isEqualTo(3);
    assertThat(dictionaries)
        .containsExactly(
            TestData.DICTIONARY_WORDS,
            List.of("alpha", "beta", "gamma", "delta", "epsilon", "zeta"),
            List.of("one", "two", "three", "four"));
  }

  private static VarCharVector varchar(BufferAllocator allocator, String... values) {
    VarCharVector vector = new VarCharVector("words", allocator);
    vector.allocateNew();
    for (int i = 0; i < values.length; i++) {
      vector.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
    }
    vector.setValueCount(values.length);
    return vector;
  }

  private static void writeDictionary(WriteChannel out, VarCharVector words, boolean delta)
      throws IOException {
    VectorSchemaRoot single =
        new VectorSchemaRoot(List.of(words.getField()), List.of(words), words.getValueCount());
    try (ArrowDictionaryBatch batch =
        new ArrowDictionaryBatch(
            TestData.DICTIONARY_ID, new VectorUnloader(single).getRecordBatch(), delta)) {
      MessageSerializer.serialize(out, batch, IpcOption.DEFAULT);
    }
  }

  private static void writeBatch(WriteChannel out, VectorSchemaRoot root) throws IOException {
    try (ArrowRecordBatch batch = new VectorUnloader(root).getRecordBatch()) {
      MessageSerializer.serialize(out, batch, IpcOption.DEFAULT);
    }
  }

  @Test
  void encodeStream_isReadByArrowStreamReader() throws IOException {
    try (VectorSchemaRoot root = TestData.allTypes(arrow.allocator(), 5, 300)) {
      ByteString stream = ArrowChunkEncoder.encodeStream(root, null);

      try (ArrowStreamReader reader =
          new ArrowStreamReader(
              new ByteArrayInputStream(stream.toByteArray()), arrow.allocator())) {
        assertThat(reader.loadNextBatch()).isTrue();
        assertSameBatch(reader.getVectorSchemaRoot(), root);
        assertThat(reader.loadNextBatch()).isFalse();
      }
    }
  }

  @Test
  void encodeStreamWithDictionary_isReadByArrowStreamReader() throws IOException {
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 3, 40)) {
      ByteString stream = ArrowChunkEncoder.encodeStream(root, TestData.provider(dictionary));

      try (ArrowStreamReader reader =
          new ArrowStreamReader(
              new ByteArrayInputStream(stream.toByteArray()), arrow.allocator())) {
        assertThat(reader.loadNextBatch()).isTrue();
        assertSameBatch(reader.getVectorSchemaRoot(), root);
        Map<Long, Dictionary> dictionaries = reader.getDictionaryVectors();
        assertThat(dictionaries).containsOnlyKeys(TestData.DICTIONARY_ID);
        try (ValueVector decoded =
                DictionaryEncoder.decode(
                    reader.getVectorSchemaRoot().getVector("word"),
                    dictionaries.get(TestData.DICTIONARY_ID));
            VarCharVector expected = TestData.words(arrow.allocator(), 3, 40)) {
          assertThat(VectorEqualsVisitor.vectorEquals(decoded, expected, (a, b) -> true)).isTrue();
        }
        assertThat(reader.loadNextBatch()).isFalse();
      }
    }
  }

  @Test
  void arrowStreamWriterOutput_decodesAtAnyCut() {
    ByteString stream;
    try (VectorSchemaRoot root = TestData.allTypes(arrow.allocator(), 0, 100)) {
      stream = IpcBytes.arrowStreamWriterBytes(root, null, 2, i -> TestData.fill(root, i, 100));
    }
    Random random = new Random(7);

    for (int round = 0; round < 10; round++) {
      assertDecodesToAllTypes(IpcBytes.cutRandomly(stream, random, 100), 100, 100);
    }
    assertDecodesToAllTypes(IpcBytes.cut(stream, 1), 100, 100);
  }

  @Test
  void arrowStreamWriterOutputWithDictionary_decodesAtAnyCut() {
    ByteString stream;
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 4, 60)) {
      stream = IpcBytes.arrowStreamWriterBytes(root, TestData.provider(dictionary), 1, i -> {});
    }
    Random random = new Random(8);

    for (int round = 0; round < 10; round++) {
      int batches =
          IpcBytes.decodeAll(
              arrow.allocator(),
              IpcBytes.cutRandomly(stream, random, 1 + round * 10),
              (decoder, i) -> assertDecodedWords(decoder, 4, 60));
      assertThat(batches).isEqualTo(1);
    }
  }

  @Test
  void takeBatch_transfersOwnershipToTheCaller() {
    ByteString stream = encodeAllTypes(256, 40, 7).stream();
    List<VectorSchemaRoot> taken = new ArrayList<>();
    try (BufferAllocator target =
        arrow.allocator().newChildAllocator("target", 0, Long.MAX_VALUE)) {
      try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
        decoder.append(stream);
        while (decoder.nextBatch()) {
          taken.add(decoder.takeBatch(target));
          assertThat(decoder.root().getRowCount()).isZero();
          assertThat(decoder.root().getFieldVectors())
              .allSatisfy(vector -> assertThat(vector.getValueCount()).isZero());
        }
        decoder.finish();
      }
      // The decoder is closed; the taken batches are still valid and accounted to target.
      assertThat(target.getAllocatedMemory()).isPositive();
      for (int i = 0; i < taken.size(); i++) {
        try (VectorSchemaRoot batch = taken.get(i);
            VectorSchemaRoot expected =
                TestData.allTypes(arrow.allocator(), i, new int[] {40, 7}[i])) {
          assertSameBatch(batch, expected);
        }
      }
      assertThat(taken).hasSize(2);
      assertThat(target.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void rootIsReusedAcrossBatches_andReleasedByClose() {
    ByteString stream = encodeAllTypes(1 << 20, 50, 50, 50).stream();

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      decoder.append(stream);
      assertThat(decoder.nextBatch()).isTrue();
      VectorSchemaRoot first = decoder.root();
      long afterOne = arrow.allocator().getAllocatedMemory();
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(decoder.nextBatch()).isTrue();
      // One batch's memory is held at a time, however many batches went by.
      assertThat(decoder.root()).isSameAs(first);
      assertThat(arrow.allocator().getAllocatedMemory()).isLessThanOrEqualTo(afterOne * 2);
    }
  }

  @Test
  void streamWithoutEndMarker_finishesAtAMessageBoundary() {
    List<ByteString> messages = IpcBytes.messages(encodeAllTypes(1 << 20, 5).stream());
    ByteString withoutEnd = IpcBytes.concat(messages.subList(0, messages.size() - 1));

    // Arrow's own reader treats the end of input as the end of stream; so do we.
    assertDecodesToAllTypes(List.of(withoutEnd), 5);
  }

  private static long sum(int... values) {
    long total = 0;
    for (int v : values) {
      total += v;
    }
    return total;
  }
}
