/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ViewVarBinaryVector;
import org.apache.arrow.vector.ViewVarCharVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Argument and state checks of {@link ArrowChunkEncoder}. */
class ArrowChunkEncoderTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<ByteString> chunks = new ArrayList<>();

  private static Schema intSchema(String name) {
    return new Schema(List.of(Field.nullable(name, new ArrowType.Int(32, true))));
  }

  private VectorSchemaRoot intRoot(String name, int rows) {
    VectorSchemaRoot root = VectorSchemaRoot.create(intSchema(name), arrow.allocator());
    IntVector vector = (IntVector) root.getVector(0);
    vector.allocateNew(rows);
    for (int r = 0; r < rows; r++) {
      vector.set(r, r);
    }
    root.setRowCount(rows);
    return root;
  }

  @ParameterizedTest
  @ValueSource(ints = {63, 1, 0, -1, Integer.MIN_VALUE})
  void chunkSizeBelow64_isRejected(int maxChunkBytes) {
    assertThatThrownBy(
            () -> ArrowChunkEncoder.create(intSchema("x"), null, maxChunkBytes, chunks::add))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxChunkBytes: " + maxChunkBytes + " (expected: >= 64)");
  }

  @Test
  void chunkSizeOf64_isAccepted() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    encoder.end();

    assertThat(chunks).isNotEmpty().allSatisfy(c -> assertThat(c.size()).isBetween(1, 64));
  }

  @Test
  void nullArguments_areRejectedByName() {
    assertThatThrownBy(() -> ArrowChunkEncoder.create(null, null, 64, chunks::add))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("schema");
    assertThatThrownBy(() -> ArrowChunkEncoder.create(intSchema("x"), null, 64, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("sink");
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    assertThatThrownBy(() -> encoder.writeBatch(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("root");
  }

  @Test
  void batchOfAnotherSchema_isRejected_andWritesNothing() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    try (VectorSchemaRoot other = intRoot("y", 3)) {
      assertThatThrownBy(() -> encoder.writeBatch(other))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("differs from the stream schema");
    }

    assertThat(chunks).isEmpty();
    assertThat(encoder.batchesWritten()).isZero();
  }

  @Test
  void writeBatchAfterEnd_isAnIllegalState() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    encoder.end();
    try (VectorSchemaRoot root = intRoot("x", 3)) {
      assertThatThrownBy(() -> encoder.writeBatch(root))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("ended");
    }
  }

  @Test
  void endTwice_writesTheEndMarkerOnce() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    try (VectorSchemaRoot root = intRoot("x", 3)) {
      encoder.writeBatch(root);
    }
    encoder.end();
    List<ByteString> afterFirstEnd = List.copyOf(chunks);
    long bytes = encoder.bytesWritten();

    encoder.end();

    assertThat(chunks).isEqualTo(afterFirstEnd);
    assertThat(encoder.bytesWritten()).isEqualTo(bytes);
    assertThat(IpcBytes.concat(chunks).endsWith(IpcBytes.END_OF_STREAM)).isTrue();
    int batches = IpcBytes.decodeAll(arrow.allocator(), chunks, (decoder, i) -> {});
    assertThat(batches).isEqualTo(1);
  }

  @Test
  void dictionaryEncodedSchemaWithoutProvider_isRejected() {
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 4)) {
      assertThatThrownBy(() -> ArrowChunkEncoder.create(root.getSchema(), null, 64, chunks::add))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("no DictionaryProvider");
      assertThatThrownBy(() -> ArrowChunkEncoder.encodeStream(root, null))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void providerWithoutTheDictionary_isRejected() {
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 4)) {
      DictionaryProvider empty = new DictionaryProvider.MapDictionaryProvider();

      // The schema's message form needs each dictionary's type, so create() already looks.
      assertThatThrownBy(() -> ArrowChunkEncoder.create(root.getSchema(), empty, 64, chunks::add))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("dictionary with ID " + TestData.DICTIONARY_ID);
    }
  }

  @Test
  void writeBatch_doesNotRetainOrChangeTheRoot() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    try (VectorSchemaRoot root = intRoot("x", 100)) {
      long before = arrow.allocator().getAllocatedMemory();
      encoder.writeBatch(root);

      // No Arrow memory is held by the encoder after the call, and the root is untouched.
      assertThat(arrow.allocator().getAllocatedMemory()).isEqualTo(before);
      assertThat(root.getRowCount()).isEqualTo(100);
      assertThat(((IntVector) root.getVector(0)).get(99)).isEqualTo(99);
    }
  }

  @Test
  void counters_trackWhatWasWritten() {
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(intSchema("x"), null, 64, chunks::add);
    try (VectorSchemaRoot root = intRoot("x", 10)) {
      encoder.writeBatch(root);
      encoder.writeBatch(root);
    }
    encoder.end();

    assertThat(encoder.batchesWritten()).isEqualTo(2);
    assertThat(encoder.rowsWritten()).isEqualTo(20);
    assertThat(encoder.bytesWritten()).isEqualTo(IpcBytes.concat(chunks).size());
    assertThat(encoder.schema()).isEqualTo(intSchema("x"));
  }

  /**
   * The encoder writes record batch messages itself (RecordBatchWriter) rather than through
   * Arrow's VectorUnloader and MessageSerializer; its bytes must stay exactly Arrow's.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 7, 64, 1000})
  void encodedStream_isByteForByteWhatArrowStreamWriterWrites(int rows) throws IOException {
    try (VectorSchemaRoot root = TestData.allTypes(arrow.allocator(), 11, rows)) {
      assertThat(encodedBytes(root, null)).isEqualTo(arrowStreamWriterBytes(root, null));
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 3, 40})
  void viewColumnsWithVariadicBuffers_areByteForByteWhatArrowWrites(int rows) throws IOException {
    try (ViewVarCharVector text = new ViewVarCharVector("text", arrow.allocator());
        ViewVarBinaryVector blob = new ViewVarBinaryVector("blob", arrow.allocator())) {
      text.allocateNew(rows);
      blob.allocateNew(rows);
      for (int r = 0; r < rows; r++) {
        // Values over 12 bytes live in variadic data buffers; short ones inline.
        String value = r % 3 == 0 ? "short" + r : "a value long enough to leave the view " + r;
        text.setSafe(r, value.getBytes(StandardCharsets.UTF_8));
        if (r % 4 == 1) {
          blob.setNull(r);
        } else {
          blob.setSafe(r, value.repeat(r % 5).getBytes(StandardCharsets.UTF_8));
        }
      }
      text.setValueCount(rows);
      blob.setValueCount(rows);
      VectorSchemaRoot root = VectorSchemaRoot.of(text, blob);
      assertThat(encodedBytes(root, null)).isEqualTo(arrowStreamWriterBytes(root, null));
    }
  }

  @Test
  void dictionaryEncodedStream_isByteForByteWhatArrowStreamWriterWrites() throws IOException {
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector values = dictionary.getVector();
        VectorSchemaRoot root = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 5, 9)) {
      DictionaryProvider provider = TestData.provider(dictionary);
      assertThat(encodedBytes(root, provider)).isEqualTo(arrowStreamWriterBytes(root, provider));
    }
  }

  private static byte[] encodedBytes(VectorSchemaRoot root, DictionaryProvider provider) {
    List<ByteString> parts = new ArrayList<>();
    ArrowChunkEncoder encoder = ArrowChunkEncoder.create(root.getSchema(), provider, 64, parts::add);
    encoder.writeBatch(root);
    encoder.writeBatch(root); // A second batch starts where the first ended.
    encoder.end();
    return ArrowChunkEncoder.concat(parts).toByteArray();
  }

  private static byte[] arrowStreamWriterBytes(VectorSchemaRoot root, DictionaryProvider provider)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArrowStreamWriter writer =
        new ArrowStreamWriter(root, provider, Channels.newChannel(out))) {
      writer.start();
      writer.writeBatch();
      writer.writeBatch();
      writer.end();
    }
    return out.toByteArray();
  }
}
