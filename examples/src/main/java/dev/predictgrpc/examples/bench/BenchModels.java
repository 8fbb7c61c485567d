/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/** The two models the benchmark serves with predict-grpc: {@code echo} and {@code score}. */
final class BenchModels {
  private BenchModels() {}

  /** Returns its input: measures pure transport, both directions at full size. */
  static final class EchoModel extends ModelService {
    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input; // Allowed: the library sends the borrowed input back without copying it.
    }
  }

  /** One float32 column back: the sum of each row's 16 features. */
  static final class ScoreModel extends ModelService {
    @Override
    public Schema inputSchema() {
      return BenchTable.INPUT_SCHEMA;
    }

    @Override
    public Schema outputSchema() {
      return BenchTable.SCORE_SCHEMA;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      Float4Vector score =
          new Float4Vector(BenchTable.SCORE_SCHEMA.getFields().get(0), ctx.allocator());
      RowSum.compute(input, score);
      VectorSchemaRoot output = VectorSchemaRoot.of(score); // the library closes it after sending
      output.setRowCount(input.getRowCount());
      return output;
    }
  }
}
