/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.demo;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/** The iris feature columns, as the bundled models take them. */
public final class IrisSchema {
  /** The four feature column names, in model order. */
  public static final List<String> FEATURE_NAMES =
      List.of("sepal_length", "sepal_width", "petal_length", "petal_width");

  /** Four non-nullable float32 columns. */
  public static final Schema FEATURES = features();

  private IrisSchema() {}

  private static Schema features() {
    FieldType float32 =
        FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));
    List<Field> fields = new ArrayList<>();
    FEATURE_NAMES.forEach(name -> fields.add(new Field(name, float32, null)));
    return new Schema(fields);
  }
}
