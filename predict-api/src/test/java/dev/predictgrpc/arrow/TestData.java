/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.DateUnit;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Deterministic test batches covering the Arrow types the codec must carry, every column with
 * nulls. {@code fill(root, seed, rows)} always writes the same values for the same arguments, so a
 * test can rebuild the expected batch instead of keeping it.
 */
final class TestData {
  static final long DICTIONARY_ID = 7L;
  static final List<String> DICTIONARY_WORDS = List.of("alpha", "beta", "gamma", "delta");

  private TestData() {}

  /** One column of each type the codec is tested with. */
  static Schema allTypesSchema() {
    return new Schema(
        List.of(
            Field.nullable("i8", new ArrowType.Int(8, true)),
            Field.nullable("i16", new ArrowType.Int(16, true)),
            Field.nullable("i32", new ArrowType.Int(32, true)),
            Field.nullable("i64", new ArrowType.Int(64, true)),
            Field.nullable("f32", new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)),
            Field.nullable("f64", new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
            Field.nullable("bool", ArrowType.Bool.INSTANCE),
            Field.nullable("utf8", ArrowType.Utf8.INSTANCE),
            Field.nullable("bin", ArrowType.Binary.INSTANCE),
            Field.nullable("ts", new ArrowType.Timestamp(TimeUnit.MICROSECOND, null)),
            Field.nullable("ts_tz", new ArrowType.Timestamp(TimeUnit.MICROSECOND, "Europe/Berlin")),
            Field.nullable("date", new ArrowType.Date(DateUnit.DAY)),
            Field.nullable("dec", new ArrowType.Decimal(38, 10, 128)),
            new Field(
                "list",
                FieldType.nullable(ArrowType.List.INSTANCE),
                List.of(Field.nullable("item", new ArrowType.Int(32, true)))),
            new Field(
                "struct",
                FieldType.nullable(ArrowType.Struct.INSTANCE),
                List.of(
                    Field.nullable("a", new ArrowType.Int(32, true)),
                    Field.nullable("b", ArrowType.Utf8.INSTANCE)))),
        Map.of("origin", "predict-grpc-test"));
  }

  /** A new root of {@link #allTypesSchema()} holding {@code fill(seed, rows)}. */
  static VectorSchemaRoot allTypes(BufferAllocator allocator, long seed, int rows) {
    VectorSchemaRoot root = VectorSchemaRoot.create(allTypesSchema(), allocator);
    fill(root, seed, rows);
    return root;
  }

  /**
   * Replaces the contents of a root of {@link #allTypesSchema()}; row r of column c is null when (r
   * + c) % 5 == 0.
   */
  static void fill(VectorSchemaRoot root, long seed, int rows) {
    root.clear();
    root.allocateNew();
    Random random = new Random(seed);
    List<FieldVector> vectors = root.getFieldVectors();
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < vectors.size(); c++) {
        FieldVector vector = vectors.get(c);
        if ((r + c) % 5 == 0) {
          setNull(vector, r);
        } else {
          setValue(vector, r, random);
        }
      }
    }
    root.setRowCount(rows);
  }

  private static void setNull(FieldVector vector, int r) {
    if (vector instanceof StructVector struct) {
      struct.setNull(r);
      ((IntVector) struct.getChild("a")).setNull(r);
      ((VarCharVector) struct.getChild("b")).setNull(r);
    } else if (vector instanceof ListVector list) {
      list.setNull(r);
    } else if (vector instanceof BaseFixedWidthVector fixed) {
      fixed.setNull(r);
    } else if (vector instanceof BaseVariableWidthVector variable) {
      variable.setNull(r);
    } else {
      throw new IllegalArgumentException("no null setter for " + vector.getField());
    }
  }

  private static void setValue(FieldVector vector, int r, Random random) {
    switch (vector.getName()) {
      case "i8" -> ((TinyIntVector) vector).setSafe(r, (byte) random.nextInt());
      case "i16" -> ((SmallIntVector) vector).setSafe(r, (short) random.nextInt());
      case "i32" -> ((IntVector) vector).setSafe(r, random.nextInt());
      case "i64" -> ((BigIntVector) vector).setSafe(r, random.nextLong());
      case "f32" -> ((Float4Vector) vector).setSafe(r, random.nextFloat() * 1000 - 500);
      case "f64" -> ((Float8Vector) vector).setSafe(r, random.nextGaussian() * 1e9);
      case "bool" -> ((BitVector) vector).setSafe(r, random.nextBoolean() ? 1 : 0);
      case "utf8" -> ((VarCharVector) vector).setSafe(r, utf8(random));
      case "bin" -> ((VarBinaryVector) vector).setSafe(r, bytes(random, random.nextInt(40)));
      case "ts" -> ((TimeStampMicroVector) vector).setSafe(r, random.nextLong() >> 12);
      case "ts_tz" -> ((TimeStampMicroTZVector) vector).setSafe(r, random.nextLong() >> 12);
      case "date" -> ((DateDayVector) vector).setSafe(r, random.nextInt(40_000) - 10_000);
      case "dec" -> ((DecimalVector) vector).setSafe(r, decimal(random));
      case "list" -> setList((ListVector) vector, r, random);
      case "struct" -> setStruct((StructVector) vector, r, random);
      default -> throw new IllegalArgumentException("unknown test column " + vector.getName());
    }
  }

  private static void setList(ListVector list, int r, Random random) {
    IntVector items = (IntVector) list.getDataVector();
    int start = list.startNewValue(r);
    int size = random.nextInt(5); // Includes empty lists.
    for (int i = 0; i < size; i++) {
      if (i == 1) {
        items.setNull(start + i); // Nulls inside lists, too.
      } else {
        items.setSafe(start + i, random.nextInt(1000));
      }
    }
    list.endValue(r, size);
  }

  private static void setStruct(StructVector struct, int r, Random random) {
    struct.setIndexDefined(r);
    IntVector a = (IntVector) struct.getChild("a");
    VarCharVector b = (VarCharVector) struct.getChild("b");
    if (r % 3 == 0) {
      a.setNull(r); // A null child inside a valid struct.
    } else {
      a.setSafe(r, random.nextInt());
    }
    b.setSafe(r, utf8(random));
  }

  private static byte[] utf8(Random random) {
    StringBuilder s = new StringBuilder();
    int length = random.nextInt(12);
    for (int i = 0; i < length; i++) {
      s.append(i % 4 == 3 ? 'ß' : (char) ('a' + random.nextInt(26)));
    }
    if (length > 6) {
      s.append("\u00e9\u4e16\ud83d\ude00"); // Multi-byte UTF-8, a surrogate pair included.
    }
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] bytes(Random random, int length) {
    byte[] result = new byte[length];
    random.nextBytes(result);
    return result;
  }

  private static BigDecimal decimal(Random random) {
    BigInteger unscaled = new BigInteger(120, random);
    return new BigDecimal(random.nextBoolean() ? unscaled : unscaled.negate(), 10);
  }

  /** A dictionary of {@link #DICTIONARY_WORDS} with id {@link #DICTIONARY_ID}, int32 indices. */
  static Dictionary dictionary(BufferAllocator allocator) {
    VarCharVector words = new VarCharVector("words", allocator);
    words.allocateNew();
    for (int i = 0; i < DICTIONARY_WORDS.size(); i++) {
      words.setSafe(i, DICTIONARY_WORDS.get(i).getBytes(StandardCharsets.UTF_8));
    }
    words.setValueCount(DICTIONARY_WORDS.size());
    return new Dictionary(
        words, new DictionaryEncoding(DICTIONARY_ID, false, new ArrowType.Int(32, true)));
  }

  /** Plain utf8 values drawn from the dictionary words, every fourth row null. */
  static VarCharVector words(BufferAllocator allocator, long seed, int rows) {
    VarCharVector vector = new VarCharVector("word", allocator);
    vector.allocateNew();
    Random random = new Random(seed);
    for (int r = 0; r < rows; r++) {
      if (r % 4 == 1) {
        vector.setNull(r);
      } else {
        String word = DICTIONARY_WORDS.get(random.nextInt(DICTIONARY_WORDS.size()));
        vector.setSafe(r, word.getBytes(StandardCharsets.UTF_8));
      }
    }
    vector.setValueCount(rows);
    return vector;
  }

  /**
   * A root with a dictionary-encoded column {@code word} (the encoding of {@link #words}) and a
   * plain int32 column {@code n}. The caller owns the root; the dictionary stays in {@code
   * provider}.
   */
  static VectorSchemaRoot dictionaryEncoded(
      BufferAllocator allocator, Dictionary dictionary, long seed, int rows) {
    try (VarCharVector plain = words(allocator, seed, rows)) {
      FieldVector encoded = (FieldVector) DictionaryEncoder.encode(plain, dictionary);
      IntVector n = new IntVector("n", allocator);
      n.allocateNew(rows);
      for (int r = 0; r < rows; r++) {
        n.set(r, r * 3);
      }
      n.setValueCount(rows);
      return new VectorSchemaRoot(
          List.of(encoded.getField(), n.getField()), List.of(encoded, n), rows);
    }
  }

  /** A provider that holds {@code dictionary} (borrowed; the provider never closes it). */
  static DictionaryProvider provider(Dictionary dictionary) {
    DictionaryProvider.MapDictionaryProvider provider =
        new DictionaryProvider.MapDictionaryProvider();
    provider.put(dictionary);
    return provider;
  }

  /** Asserts two roots have the same schema, row count and values, with a readable diff. */
  static void assertSameBatch(VectorSchemaRoot actual, VectorSchemaRoot expected) {
    assertThat(actual.getSchema()).isEqualTo(expected.getSchema());
    assertThat(actual.getRowCount()).isEqualTo(expected.getRowCount());
    assertThat(rows(actual)).isEqualTo(rows(expected));
    assertThat(actual.equals(expected)).as("VectorSchemaRoot#equals").isTrue();
  }

  /** The root's values row by row; unlike contentToTSVString, prints byte arrays by value. */
  static List<List<String>> rows(VectorSchemaRoot root) {
    List<List<String>> rows = new ArrayList<>(root.getRowCount());
    for (int r = 0; r < root.getRowCount(); r++) {
      List<String> row = new ArrayList<>();
      for (FieldVector vector : root.getFieldVectors()) {
        Object value = vector.getObject(r);
        row.add(value instanceof byte[] bytes ? Arrays.toString(bytes) : String.valueOf(value));
      }
      rows.add(row);
    }
    return rows;
  }
}
