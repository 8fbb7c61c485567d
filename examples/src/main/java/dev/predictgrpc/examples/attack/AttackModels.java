/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

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

/**
 * The models an attacked server hosts: {@code echo} (any input, returned as is), {@code score}
 * (declares its input, so schema checks apply) and {@code sleepy} (holds its thread, as a slow real
 * model would). Each model is stateless, so one instance serves concurrent calls.
 */
public final class AttackModels {
  private static final FieldType FLOAT32 =
      FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));

  /** What {@code score} takes: one non-nullable float32 column {@code x}. */
  public static final Schema SCORE_INPUT = new Schema(List.of(new Field("x", FLOAT32, null)));

  /** What {@code score} returns: one float32 column {@code y}. */
  public static final Schema SCORE_OUTPUT = new Schema(List.of(new Field("y", FLOAT32, null)));

  private AttackModels() {}

  /** All three models; {@code sleepy} sleeps {@code sleepMillis} per batch. */
  public static List<ModelService> all(long sleepMillis) {
    return List.of(new Echo(), new Score(), new Sleepy(sleepMillis));
  }

  /** Returns its input: the output of a call grows with whatever the client sends. */
  static final class Echo extends ModelService {
    @Override
    public String name() {
      return "echo";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input; // The library sends the borrowed input back without copying it.
    }
  }

  /** y = 2x; declares its schemas, so the server checks input against them. */
  static final class Score extends ModelService {
    @Override
    public String name() {
      return "score";
    }

    @Override
    public Schema inputSchema() {
      return SCORE_INPUT;
    }

    @Override
    public Schema outputSchema() {
      return SCORE_OUTPUT;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      Float4Vector x = (Float4Vector) input.getVector(0);
      Float4Vector y = new Float4Vector(SCORE_OUTPUT.getFields().get(0), ctx.allocator());
      int rows = input.getRowCount();
      y.allocateNew(rows);
      for (int i = 0; i < rows; i++) {
        y.set(i, 2 * x.get(i));
      }
      y.setValueCount(rows);
      VectorSchemaRoot output = VectorSchemaRoot.of(y); // The library closes it after sending.
      output.setRowCount(rows);
      return output;
    }
  }

  /** Sleeps, then echoes: a model whose calls hold a server thread for a while. */
  static final class Sleepy extends ModelService {
    private final long sleepMillis;

    Sleepy(long sleepMillis) {
      this.sleepMillis = sleepMillis;
    }

    @Override
    public String name() {
      return "sleepy";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      Thread.sleep(sleepMillis);
      return input;
    }
  }
}
