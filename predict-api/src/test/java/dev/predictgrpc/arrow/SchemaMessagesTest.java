/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The schema-message caches that spare unary calls rebuilding and reparsing the same schema: they
 * must be invisible (the same bytes and schemas as without them), bounded, and never let a schema
 * skip the checks it would otherwise get.
 */
class SchemaMessagesTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @BeforeEach
  void emptyCaches() {
    SchemaMessages.clear();
  }

  private static Schema floats(String... names) {
    List<Field> fields = new ArrayList<>();
    for (String name : names) {
      fields.add(
          Field.nullable(name, new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)));
    }
    return new Schema(fields, Map.of("origin", "test"));
  }

  private static byte[] arrowSerialized(Schema schema) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    MessageSerializer.serialize(
        new WriteChannel(Channels.newChannel(bytes)), schema, IpcOption.DEFAULT);
    return bytes.toByteArray();
  }

  /** The flatbuffer of an encapsulated message: after the marker and the length prefix. */
  private static byte[] metadataOf(byte[] message) {
    return Arrays.copyOfRange(message, 8, message.length);
  }

  private static Schema decode(byte[] metadata, AtomicInteger parses) {
    return SchemaMessages.decode(
        metadata,
        Message.getRootAsMessage(ByteBuffer.wrap(metadata)),
        message -> {
          parses.incrementAndGet();
          return MessageSerializer.deserializeSchema(message);
        })
        .schema();
  }

  @Test
  void encode_writesExactlyWhatArrowWrites_andBuildsEachSchemaOnce() throws Exception {
    Schema schema = floats("a", "bb", "ccc"); // Odd name lengths exercise the padding.

    byte[] first = SchemaMessages.encode(schema);

    assertThat(first).isEqualTo(arrowSerialized(schema));
    // An equal schema, built separately, is a hit: the very same array comes back.
    assertThat(SchemaMessages.encode(floats("a", "bb", "ccc"))).isSameAs(first);
    Schema other = floats("a", "bb");
    assertThat(SchemaMessages.encode(other)).isEqualTo(arrowSerialized(other));
    // Alternating schemas (the last one is remembered by identity) still get their own messages.
    assertThat(SchemaMessages.encode(schema)).isSameAs(first);
    assertThat(SchemaMessages.encode(schema)).isSameAs(first);
    assertThat(SchemaMessages.encode(other)).isEqualTo(arrowSerialized(other));
  }

  @Test
  void decode_parsesEachDistinctMetadataOnce_andMatchesArrowsParse() throws Exception {
    Schema schema = floats("x", "y");
    byte[] metadata = metadataOf(arrowSerialized(schema));
    AtomicInteger parses = new AtomicInteger();

    Schema first = decode(metadata, parses);
    // Equal content in another array (the next call's bytes) is a hit.
    Schema second = decode(metadata.clone(), parses);

    assertThat(first).isEqualTo(schema);
    assertThat(second).isSameAs(first);
    assertThat(parses).hasValue(1);

    byte[] other = metadataOf(arrowSerialized(floats("x", "z")));
    assertThat(decode(other, parses)).isEqualTo(floats("x", "z"));
    assertThat(parses).hasValue(2);
  }

  @Test
  void decode_aParseThatThrows_isNotCached_soTheNextCopyIsCheckedAgain() throws Exception {
    byte[] metadata = metadataOf(arrowSerialized(floats("x")));
    AtomicInteger attempts = new AtomicInteger();
    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(
              () ->
                  SchemaMessages.decode(
                      metadata,
                      Message.getRootAsMessage(ByteBuffer.wrap(metadata)),
                      message -> {
                        attempts.incrementAndGet();
                        throw ArrowChunkException.malformed("refused");
                      }))
          .hasMessageContaining("refused");
    }
    assertThat(attempts).hasValue(2);
    assertThat(SchemaMessages.sizes()[1]).isZero();
  }

  @Test
  void manyDistinctSchemas_keepBothCachesBounded() throws Exception {
    AtomicInteger parses = new AtomicInteger();
    for (int i = 0; i < SchemaMessages.MAX_ENTRIES * 3; i++) {
      Schema schema = floats("column" + i);
      byte[] message = SchemaMessages.encode(schema);
      decode(metadataOf(message), parses);
      assertThat(SchemaMessages.sizes()[0]).isBetween(1, SchemaMessages.MAX_ENTRIES);
      assertThat(SchemaMessages.sizes()[1]).isBetween(1, SchemaMessages.MAX_ENTRIES);
    }
    assertThat(parses).hasValue(SchemaMessages.MAX_ENTRIES * 3);
  }

  @Test
  void hugeSchemas_areNeverKept() throws Exception {
    String[] names = new String[2000]; // About 100 KiB of metadata, over MAX_CACHED_BYTES.
    for (int i = 0; i < names.length; i++) {
      names[i] = "a_rather_long_column_name_" + i;
    }
    Schema schema = floats(names);
    byte[] message = SchemaMessages.encode(schema);
    assertThat(message.length).isGreaterThan(SchemaMessages.MAX_CACHED_BYTES);
    AtomicInteger parses = new AtomicInteger();

    decode(metadataOf(message), parses);
    decode(metadataOf(message), parses);

    assertThat(message).isEqualTo(arrowSerialized(schema));
    assertThat(parses).hasValue(2);
    assertThat(SchemaMessages.sizes()).containsExactly(0, 0);
  }

  @Test
  void aSmallBatch_travelsWithItsSchemaInOneChunk_andArrowReadsTheStream() throws Exception {
    Schema schema = floats("a", "bb", "ccc");
    List<ByteString> chunks = new ArrayList<>();
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      for (int c = 0; c < 3; c++) {
        Float4Vector vector = (Float4Vector) root.getVector(c);
        vector.allocateNew(1);
        vector.set(0, c + 0.5f);
      }
      root.setRowCount(1);
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(schema, null, ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES, chunks::add);
      encoder.writeBatch(root);
      assertThat(chunks).hasSize(1);
      assertThat(chunks.get(0).size()).isGreaterThan(SchemaMessages.encode(schema).length);
      encoder.end();
      assertThat(chunks).hasSize(2);
      assertThat(chunks.get(1).size()).isEqualTo(8);
    }

    // Arrow's own reader: the cached schema bytes keep every later message aligned.
    try (ArrowStreamReader reader =
        new ArrowStreamReader(
            ArrowChunkEncoder.concat(chunks).newInput(), arrow.allocator())) {
      assertThat(reader.loadNextBatch()).isTrue();
      VectorSchemaRoot read = reader.getVectorSchemaRoot();
      assertThat(read.getSchema()).isEqualTo(schema);
      assertThat(((Float4Vector) read.getVector(2)).get(0)).isEqualTo(2.5f);
      assertThat(reader.loadNextBatch()).isFalse();
    }
  }

  @Test
  void aSchemaWithAnInvalidType_isRefusedEveryTime_notOnlyBeforeItIsCached() {
    // Precision 50 does not fit a 128-bit decimal: Arrow's type check refuses it.
    Schema schema =
        new Schema(List.of(Field.nullable("d", new ArrowType.Decimal(50, 2, 128))));
    ByteString stream;
    try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator())) {
      ((DecimalVector) root.getVector(0)).allocateNew(0);
      root.setRowCount(0);
      stream = ArrowChunkEncoder.encodeStream(root, null);
    }
    for (int i = 0; i < 2; i++) {
      try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
        assertThatThrownBy(
                () -> {
                  decoder.append(stream);
                  decoder.nextBatch();
                })
            .isInstanceOf(ArrowChunkException.class)
            .hasMessageContaining("column d is invalid");
      }
    }
  }
}
