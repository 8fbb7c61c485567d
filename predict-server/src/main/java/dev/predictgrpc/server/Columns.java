/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * Typed access to a model's input columns, with an INVALID_ARGUMENT naming the column when it is
 * missing or of another type, instead of a {@code ClassCastException} that the server would report
 * as the model's own failure.
 *
 * <pre>{@code
 * Float4Vector x = Columns.float32(input, "x");   // INVALID_ARGUMENT if 'x' is absent or not float32
 * VarCharVector id = Columns.utf8(input, "id");
 * }</pre>
 *
 * <p>Each call costs one lookup by name and one type check, per batch; reading the returned vector
 * is Arrow's own {@code get} and {@code isNull}. A model that declares {@link
 * ModelService#inputSchema()} has its input checked before {@code predict} runs, so these calls
 * cannot fail there and only save the casts; a model that accepts any input gets the checks here.
 *
 * <p>The returned vectors are borrowed from {@code input}: valid until {@code predict} returns; do
 * not close them. Thread-safe (stateless).
 *
 * @since 0.1
 */
public final class Columns {
  /** The Arrow type each typed accessor expects, as error messages spell it. */
  private static final Map<Class<?>, String> TYPE_NAMES =
      Map.of(
          Float4Vector.class, "FloatingPoint(SINGLE)",
          Float8Vector.class, "FloatingPoint(DOUBLE)",
          IntVector.class, "Int(32, true)",
          BigIntVector.class, "Int(64, true)",
          BitVector.class, "Bool",
          VarCharVector.class, "Utf8");

  private Columns() {}

  /** The float32 column {@code name}; see the class documentation for errors and ownership. */
  public static Float4Vector float32(VectorSchemaRoot input, String name) {
    return typed(input, name, Float4Vector.class);
  }

  /** The float64 column {@code name}; see the class documentation for errors and ownership. */
  public static Float8Vector float64(VectorSchemaRoot input, String name) {
    return typed(input, name, Float8Vector.class);
  }

  /** The int32 column {@code name}; see the class documentation for errors and ownership. */
  public static IntVector int32(VectorSchemaRoot input, String name) {
    return typed(input, name, IntVector.class);
  }

  /** The int64 column {@code name}; see the class documentation for errors and ownership. */
  public static BigIntVector int64(VectorSchemaRoot input, String name) {
    return typed(input, name, BigIntVector.class);
  }

  /** The boolean column {@code name}; see the class documentation for errors and ownership. */
  public static BitVector bool(VectorSchemaRoot input, String name) {
    return typed(input, name, BitVector.class);
  }

  /** The UTF-8 string column {@code name}; see the class documentation for errors and ownership. */
  public static VarCharVector utf8(VectorSchemaRoot input, String name) {
    return typed(input, name, VarCharVector.class);
  }

  /**
   * The column {@code name} as a vector of class {@code type}, for types without a method of their
   * own (timestamps, decimals, lists...). Unlike the typed methods it accepts a dictionary-encoded
   * column, whose vector holds the indices (e.g. an {@link IntVector}); look its values up in
   * {@link PredictContext#dictionaries()}.
   *
   * @throws PredictException INVALID_ARGUMENT if the column is missing or not of class {@code type}
   */
  public static <V extends FieldVector> V column(
      VectorSchemaRoot input, String name, Class<V> type) {
    requireNonNull(type, "type");
    FieldVector vector = find(input, name);
    if (!type.isInstance(vector)) {
      throw invalid(
          "input column '" + name + "' has type " + describe(vector) + " (expected: "
              + TYPE_NAMES.getOrDefault(type, type.getSimpleName()) + ")");
    }
    return type.cast(vector);
  }

  /**
   * A plain (not dictionary-encoded) column of one of the typed methods' classes.
   *
   * @throws PredictException INVALID_ARGUMENT naming the column
   */
  private static <V extends FieldVector> V typed(
      VectorSchemaRoot input, String name, Class<V> type) {
    FieldVector vector = find(input, name);
    // A dictionary-encoded column's vector holds indices: an IntVector of them is not int32 data.
    if (!type.isInstance(vector) || vector.getField().getDictionary() != null) {
      throw invalid(
          "input column '" + name + "' has type " + describe(vector) + " (expected: "
              + TYPE_NAMES.get(type) + ")");
    }
    return type.cast(vector);
  }

  private static FieldVector find(VectorSchemaRoot input, String name) {
    requireNonNull(input, "input");
    requireNonNull(name, "name");
    FieldVector vector = input.getVector(name);
    if (vector == null) {
      List<String> names = new ArrayList<>();
      input.getSchema().getFields().forEach(f -> names.add(f.getName()));
      throw invalid("the input has no column '" + name + "'; its columns are " + names);
    }
    return vector;
  }

  private static String describe(FieldVector vector) {
    return vector.getField().getType()
        + (vector.getField().getDictionary() != null ? " dictionary-encoded" : "");
  }

  private static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
