/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import io.grpc.Status;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A model that declares a plain column accepts it dictionary-encoded (as pandas categoricals and
 * Spark send strings): the server decodes it and the model sees the type it declared. A dictionary
 * whose values have another type is refused, and the message names the values' type.
 */
class DictionaryInputTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static final List<String> WORDS = List.of("alpha", "beta", "gamma");

  /** The words the model read, as strings, in order. */
  private final List<String> seen = new CopyOnWriteArrayList<>();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  /** Declares a nullable utf8 column "word"; answers each word's length. */
  private TestModel lengthModel() {
    return TestModel.of(
            "length",
            (ctx, input) -> {
              VarCharVector words = (VarCharVector) input.getVector("word");
              for (int i = 0; i < input.getRowCount(); i++) {
                seen.add(words.isNull(i) ? null : new String(words.get(i), StandardCharsets.UTF_8));
              }
              return TestModel.floatColumn(
                  ctx,
                  "length",
                  input.getRowCount(),
                  i -> words.isNull(i) ? -1f : (float) words.get(i).length);
            })
        .input(new Schema(List.of(Field.nullable("word", ArrowType.Utf8.INSTANCE))));
  }

  /** A one-batch stream whose column "word" encodes {@code values} with {@code dictionary}. */
  private ByteString encodedStream(FieldVector values, Dictionary dictionary) {
    try (FieldVector encoded = (FieldVector) DictionaryEncoder.encode(values, dictionary);
        VectorSchemaRoot root = VectorSchemaRoot.of(encoded)) {
      root.setRowCount(values.getValueCount());
      DictionaryProvider.MapDictionaryProvider provider =
          new DictionaryProvider.MapDictionaryProvider();
      provider.put(dictionary);
      return ArrowChunkEncoder.encodeStream(root, provider);
    }
  }

  private VarCharVector words(String... values) {
    VarCharVector vector = new VarCharVector("word", allocator());
    vector.allocateNew();
    for (int i = 0; i < values.length; i++) {
      if (values[i] == null) {
        vector.setNull(i);
      } else {
        vector.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
      }
    }
    vector.setValueCount(values.length);
    return vector;
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void dictionaryEncodedStrings_satisfyADeclaredUtf8Column_decodedForTheModel(Rpc rpc)
      throws Exception {
    ByteString input;
    try (VarCharVector dictionaryValues = words(WORDS.toArray(new String[0]));
        VarCharVector values = words("gamma", null, "alpha", "gamma")) {
      Dictionary dictionary =
          new Dictionary(
              dictionaryValues, new DictionaryEncoding(7, false, new ArrowType.Int(32, true)));
      input = encodedStream(values, dictionary);
    }
    try (InProcessPredict p = InProcessPredict.start(allocator(), lengthModel())) {
      Batches.Decoded out = rpc.call(p, "length", input).ok();

      assertThat(out.batches().get(0).column("length")).containsExactly(5f, -1f, 5f, 5f);
      assertThat(seen).containsExactly("gamma", null, "alpha", "gamma");
      assertThat(p.service.allocatedBytes()).isZero();
    }
  }

  @ParameterizedTest
  @EnumSource(Rpc.class)
  void dictionaryOfAnotherValueType_isRefusedNamingTheValuesType(Rpc rpc) throws Exception {
    ByteString input;
    try (IntVector dictionaryValues = new IntVector("codes", allocator());
        IntVector values = new IntVector("word", allocator())) {
      dictionaryValues.allocateNew(2);
      dictionaryValues.set(0, 10);
      dictionaryValues.set(1, 20);
      dictionaryValues.setValueCount(2);
      values.allocateNew(2);
      values.set(0, 20);
      values.set(1, 10);
      values.setValueCount(2);
      Dictionary dictionary =
          new Dictionary(
              dictionaryValues, new DictionaryEncoding(3, false, new ArrowType.Int(8, true)));
      input = encodedStream(values, dictionary);
    }
    try (InProcessPredict p = InProcessPredict.start(allocator(), lengthModel())) {
      Status status = rpc.call(p, "length", input).status();

      assertCleanError(
          status,
          Status.Code.INVALID_ARGUMENT,
          "column 'word' has type Int(32, true) dictionary-encoded (Int(8, true) indices)",
          "expects Utf8");
      assertThat(seen).isEmpty();
    }
  }
}
