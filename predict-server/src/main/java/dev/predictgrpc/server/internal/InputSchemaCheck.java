/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;
import org.jspecify.annotations.Nullable;

/**
 * Checks input batches against a model's declared input schema and lines their columns up in the
 * declared order. One instance serves one call; not thread-safe.
 *
 * <p>The schema comparison runs once per input schema (a stream has one); per batch only the null
 * counts of non-nullable columns are read, which Arrow keeps without scanning rows for most types.
 */
final class InputSchemaCheck {
  /**
   * The input schema a model's calls checked last, and its column order, shared by those calls.
   * Every unary call brings its own schema, and the decoder hands out one Schema object for the
   * same schema bytes, so an identity check skips the comparison, a name map and a type walk per
   * call. Thread-safe.
   */
  static final class LastChecked {
    private record Checked(Schema input, int[] order, boolean @Nullable [] decode) {}

    private volatile @Nullable Checked last;

    /** What was found for exactly this schema object, or null. */
    @Nullable Checked of(Schema input) {
      Checked checked = last;
      return checked != null && checked.input == input ? checked : null;
    }

    void remember(Checked checked) {
      last = checked;
    }
  }

  private final String model;
  private final @Nullable Schema declared;
  private final LastChecked shared;
  private @Nullable Schema checkedInput;
  private int @Nullable [] order;
  /** Which declared columns arrive dictionary-encoded and are decoded for the model; or null. */
  private boolean @Nullable [] decode;
  private @Nullable DictionaryProvider dictionaries;
  /** Vectors decoded for the current batch, closed by {@link #releaseDecoded()}. */
  private final List<FieldVector> decoded = new ArrayList<>(0);

  /**
   * @param shared what the model's calls checked last; its orders are never modified
   */
  InputSchemaCheck(String model, @Nullable Schema declared, LastChecked shared) {
    this.model = model;
    this.declared = declared;
    this.shared = shared;
  }

  /**
   * Returns the batch to hand the model: {@code input} itself when its columns are already in the
   * declared order, else a view of the same vectors in that order (nothing copied; the view must
   * not be closed, as it shares {@code input}'s vectors).
   *
   * @throws PredictException INVALID_ARGUMENT naming the column that does not conform
   */
  VectorSchemaRoot conform(VectorSchemaRoot input) {
    if (declared == null) {
      return input;
    }
    checkSchema(input.getSchema(), dictionaries);
    List<Field> fields = declared.getFields();
    boolean inOrder = decode == null;
    for (int i = 0; i < fields.size(); i++) {
      FieldVector vector = input.getVector(order[i]);
      if (!fields.get(i).isNullable() && vector.getNullCount() > 0) {
        throw invalid(
            "column '"
                + fields.get(i).getName()
                + "' has "
                + vector.getNullCount()
                + " nulls but model '"
                + model
                + "' declares it non-nullable");
      }
      inOrder &= order[i] == i;
    }
    if (inOrder) {
      return input;
    }
    List<FieldVector> vectors = new ArrayList<>(fields.size());
    for (int i = 0; i < order.length; i++) {
      FieldVector vector = input.getVector(order[i]);
      vectors.add(decode != null && decode[i] ? decodeColumn(vector) : vector);
    }
    List<Field> actualFields = new ArrayList<>(fields.size());
    for (FieldVector vector : vectors) {
      actualFields.add(vector.getField());
    }
    return new VectorSchemaRoot(actualFields, vectors, input.getRowCount());
  }

  /**
   * Checks an input schema against the declared one, as soon as the input's schema is known and
   * before any batch of it is decoded, and remembers the column order for {@link #conform}.
   *
   * @throws PredictException INVALID_ARGUMENT naming the column that does not conform
   */
  void checkSchema(Schema schema, @Nullable DictionaryProvider dictionaries) {
    this.dictionaries = dictionaries;
    if (declared == null || schema == checkedInput) {
      return;
    }
    LastChecked.Checked known = shared.of(schema);
    if (known == null) {
      boolean[] toDecode = new boolean[declared.getFields().size()];
      int[] columns = columnOrder(schema, toDecode);
      known = new LastChecked.Checked(schema, columns, anyTrue(toDecode) ? toDecode : null);
      shared.remember(known);
    }
    order = known.order();
    decode = known.decode();
    checkedInput = schema;
  }

  /**
   * Closes the vectors decoded from dictionary-encoded input for the last batch; call it once the
   * model's output (which may be those very vectors) has been sent.
   */
  void releaseDecoded() {
    for (FieldVector vector : decoded) {
      vector.close();
    }
    decoded.clear();
  }

  /**
   * A plain vector of a dictionary-encoded column's values, named as the column, from the
   * column's allocator (the call's): the model sees the type it declared.
   */
  private FieldVector decodeColumn(FieldVector indices) {
    Dictionary dictionary = dictionaries.lookup(indices.getField().getDictionary().getId());
    try (ValueVector values = DictionaryEncoder.decode(indices, dictionary)) {
      TransferPair rename = values.getTransferPair(indices.getName(), indices.getAllocator());
      rename.transfer();
      FieldVector plain = (FieldVector) rename.getTo();
      decoded.add(plain);
      return plain;
    }
  }

  private static boolean anyTrue(boolean[] flags) {
    for (boolean flag : flags) {
      if (flag) {
        return true;
      }
    }
    return false;
  }

  private int[] columnOrder(Schema input, boolean[] toDecode) {
    Map<String, Integer> byName = new HashMap<>();
    List<Field> inputFields = input.getFields();
    for (int i = 0; i < inputFields.size(); i++) {
      if (byName.put(inputFields.get(i).getName(), i) != null) {
        throw invalid(
            "the input has two columns named '" + ClientText.name(inputFields.get(i).getName()) + "'");
      }
    }
    List<Field> expected = declared.getFields();
    int[] result = new int[expected.size()];
    for (int i = 0; i < expected.size(); i++) {
      Field want = expected.get(i);
      Integer index = byName.remove(want.getName());
      if (index == null) {
        throw invalid(
            "model '"
                + model
                + "' needs column '"
                + want.getName()
                + "' of type "
                + describe(want)
                + ", which the input lacks");
      }
      Field got = inputFields.get(index);
      if (!sameType(want, got)) {
        if (decodesTo(got, want)) {
          toDecode[i] = true;
          result[i] = index;
          continue;
        }
        throw invalid(
            "column '"
                + want.getName()
                + "' has type "
                + ClientText.name(describe(got, dictionaries))
                + " but model '"
                + model
                + "' expects "
                + describe(want));
      }
      result[i] = index;
    }
    if (!byName.isEmpty()) {
      throw invalid(
          "model '"
              + model
              + "' does not take column(s) "
              + ClientText.list(byName.keySet())
              + "; it takes "
              + names(expected));
    }
    return result;
  }

  /** Types match when the Arrow types and dictionary encodings match, recursively. */
  static boolean sameType(Field want, Field got) {
    if (!want.getType().equals(got.getType())
        || (want.getDictionary() == null) != (got.getDictionary() == null)
        || want.getChildren().size() != got.getChildren().size()) {
      return false;
    }
    for (int i = 0; i < want.getChildren().size(); i++) {
      if (!sameType(want.getChildren().get(i), got.getChildren().get(i))) {
        return false;
      }
    }
    return true;
  }

  /**
   * True if {@code got} is a dictionary-encoded column whose values have the plain type {@code
   * want} declares: such a column is accepted and decoded for the model, as a user sending a
   * pandas categorical or a Spark dictionary column expects.
   */
  private boolean decodesTo(Field got, Field want) {
    if (got.getDictionary() == null || want.getDictionary() != null || dictionaries == null) {
      return false;
    }
    Dictionary dictionary = dictionaries.lookup(got.getDictionary().getId());
    return dictionary != null && sameType(want, dictionary.getVector().getField());
  }

  /** A readable type, e.g. {@code FloatingPoint(SINGLE)} or {@code List<Int(32, true)>}. */
  static String describe(Field field) {
    return describe(field, null);
  }

  /**
   * A readable type; a dictionary-encoded column reads as its values' type, e.g. {@code Utf8
   * dictionary-encoded (Int(32, true) indices)}, when {@code dictionaries} has its dictionary.
   */
  static String describe(Field field, @Nullable DictionaryProvider dictionaries) {
    DictionaryEncoding encoding = field.getDictionary();
    Dictionary dictionary =
        encoding == null || dictionaries == null ? null : dictionaries.lookup(encoding.getId());
    StringBuilder out =
        new StringBuilder(
            dictionary != null
                ? dictionary.getVector().getField().getType().toString()
                : field.getType().toString());
    if (encoding != null) {
      out.append(" dictionary-encoded");
      if (dictionary != null) {
        out.append(" (").append(field.getType()).append(" indices)");
      }
    }
    if (!field.getChildren().isEmpty()) {
      out.append('<');
      for (int i = 0; i < field.getChildren().size(); i++) {
        Field child = field.getChildren().get(i);
        out.append(i == 0 ? "" : ", ").append(child.getName()).append(": ").append(describe(child));
      }
      out.append('>');
    }
    return out.toString();
  }

  private static List<String> names(List<Field> fields) {
    List<String> names = new ArrayList<>(fields.size());
    fields.forEach(f -> names.add(f.getName()));
    return names;
  }

  private static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
