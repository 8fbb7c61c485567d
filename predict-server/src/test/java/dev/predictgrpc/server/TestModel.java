/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * A configurable model for tests: a name, version, schemas and a body given as a lambda. Configure
 * it before handing it to a service; afterwards it is only read.
 */
final class TestModel extends ModelService {
  static final ArrowType FLOAT4 = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);

  /** The model's per-batch work. */
  @FunctionalInterface
  interface Body {
    VectorSchemaRoot apply(PredictContext ctx, VectorSchemaRoot input) throws Exception;
  }

  /** What {@link #start()} does. */
  @FunctionalInterface
  interface StartHook {
    void run() throws Exception;
  }

  private final String name;
  private String version = "1";
  private String description = "";
  private @Nullable Schema inputSchema;
  private @Nullable Schema outputSchema;
  private Body body;
  private StartHook startHook = () -> {};
  final AtomicBoolean started = new AtomicBoolean();
  final AtomicBoolean closed = new AtomicBoolean();
  final AtomicInteger batches = new AtomicInteger();

  private TestModel(String name, Body body) {
    this.name = name;
    this.body = body;
  }

  /** A model named {@code name} that doubles float32 column 0 into a column "y". */
  static TestModel scale(String name) {
    return new TestModel(name, TestModel::doubleFirstColumn);
  }

  /** A model with the given body and no schemas. */
  static TestModel of(String name, Body body) {
    return new TestModel(name, body);
  }

  TestModel version(String version) {
    this.version = version;
    return this;
  }

  TestModel description(String description) {
    this.description = description;
    return this;
  }

  TestModel input(Schema schema) {
    this.inputSchema = schema;
    return this;
  }

  TestModel output(Schema schema) {
    this.outputSchema = schema;
    return this;
  }

  TestModel body(Body body) {
    this.body = body;
    return this;
  }

  TestModel onStart(StartHook hook) {
    this.startHook = hook;
    return this;
  }

  @Override
  public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) throws Exception {
    batches.incrementAndGet();
    return body.apply(ctx, input);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String version() {
    return version;
  }

  @Override
  public String description() {
    return description;
  }

  @Override
  public @Nullable Schema inputSchema() {
    return inputSchema;
  }

  @Override
  public @Nullable Schema outputSchema() {
    return outputSchema;
  }

  @Override
  public void start() throws Exception {
    startHook.run();
    started.set(true);
  }

  @Override
  public void close() {
    closed.set(true);
  }

  /** y = 2 * (column 0), nulls kept. Ownership of the result passes to the caller. */
  static VectorSchemaRoot doubleFirstColumn(PredictContext ctx, VectorSchemaRoot input) {
    Float4Vector x = (Float4Vector) input.getVector(0);
    return floatColumn(ctx, "y", input.getRowCount(), i -> x.isNull(i) ? null : 2 * x.get(i));
  }

  /** Computes one float value per row; null means a null value. */
  @FunctionalInterface
  interface RowFunction {
    @Nullable Float at(int row);
  }

  /** A one-column float32 root from {@code ctx.allocator()}; ownership passes to the caller. */
  static VectorSchemaRoot floatColumn(PredictContext ctx, String name, int rows, RowFunction f) {
    Float4Vector out = new Float4Vector(name, ctx.allocator());
    out.allocateNew(rows);
    for (int i = 0; i < rows; i++) {
      Float value = f.at(i);
      if (value == null) {
        out.setNull(i);
      } else {
        out.set(i, value);
      }
    }
    out.setValueCount(rows);
    return VectorSchemaRoot.of(out);
  }

  /** A schema of float32 columns. */
  static Schema floatSchema(boolean nullable, String... names) {
    Field[] fields = new Field[names.length];
    for (int i = 0; i < names.length; i++) {
      fields[i] = nullable ? Field.nullable(names[i], FLOAT4) : Field.notNullable(names[i], FLOAT4);
    }
    return new Schema(List.of(fields));
  }
}
