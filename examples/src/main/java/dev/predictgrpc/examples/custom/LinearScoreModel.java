/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.custom;

import dev.predictgrpc.server.ModelService;
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
  private static final FieldType FLOAT = FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));

  @Override
  public Schema inputSchema() {
    return new Schema(List.of(new Field("x", FLOAT, null), new Field("y", FLOAT, null)));
  }

  @Override
  public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
    float bias = Float.parseFloat(ctx.parameters().getOrDefault("bias", "0"));
    Float4Vector x = (Float4Vector) input.getVector("x");
    Float4Vector y = (Float4Vector) input.getVector("y");
    Float4Vector score = new Float4Vector("score", ctx.allocator()); // owned by the library once returned
    score.allocateNew(input.getRowCount());
    for (int i = 0; i < input.getRowCount(); i++) {
      score.set(i, 0.5f * x.get(i) + 2f * y.get(i) + bias);
    }
    score.setValueCount(input.getRowCount());
    return VectorSchemaRoot.of(score);
  }
}
