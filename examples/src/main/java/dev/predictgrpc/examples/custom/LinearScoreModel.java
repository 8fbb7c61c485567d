/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.custom;

import dev.predictgrpc.server.Columns;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.OutputBuilder;
import dev.predictgrpc.server.PredictContext;
import java.util.List;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/** A linear model in plain Java: score = 0.5 * x + 2 * y + bias, where bias is a parameter. */
public final class LinearScoreModel extends ModelService {
  private static final FieldType FLOAT =
      FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));

  @Override
  public Schema inputSchema() {
    return new Schema(List.of(new Field("x", FLOAT, null), new Field("y", FLOAT, null)));
  }

  @Override
  public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
    float bias = Float.parseFloat(ctx.parameters().getOrDefault("bias", "0"));
    Float4Vector x = Columns.float32(input, "x");
    Float4Vector y = Columns.float32(input, "y");
    try (OutputBuilder out = ctx.output(input.getRowCount())) { // from the call's allocator
      Float4Vector score = out.float32("score");
      for (int i = 0; i < out.rows(); i++) {
        score.set(i, 0.5f * x.get(i) + 2f * y.get(i) + bias); // x, y are declared non-nullable
      }
      return out.build(); // the library closes it after sending
    }
  }
}
