/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/** Models for client tests. */
final class TestModels {
  private TestModels() {}

  static final ArrowType FLOAT32 = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);

  static Schema floatSchema(String... names) {
    List<Field> fields = new java.util.ArrayList<>();
    for (String name : names) {
      fields.add(new Field(name, FieldType.notNullable(FLOAT32), null));
    }
    return new Schema(fields);
  }

  /** Returns its input unchanged. */
  static final class EchoModel extends ModelService {
    @Override
    public String name() {
      return "echo";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input;
    }
  }

  /** One float32 column "score": the sum of every float32 input column of the row. */
  static class RowSumModel extends ModelService {
    private final String version;

    RowSumModel() {
      this("1");
    }

    RowSumModel(String version) {
      this.version = version;
    }

    @Override
    public String name() {
      return "row-sum";
    }

    @Override
    public String version() {
      return version;
    }

    @Override
    public String description() {
      return "sums float32 columns";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      int rows = input.getRowCount();
      Float4Vector score = new Float4Vector("score", ctx.allocator());
      score.allocateNew(rows);
      for (FieldVector column : input.getFieldVectors()) {
        Float4Vector f = (Float4Vector) column;
        for (int i = 0; i < rows; i++) {
          score.set(i, (score.isSet(i) == 1 ? score.get(i) : 0f) + f.get(i));
        }
      }
      if (input.getFieldVectors().isEmpty()) {
        for (int i = 0; i < rows; i++) {
          score.set(i, 0f);
        }
      }
      score.setValueCount(rows);
      return VectorSchemaRoot.of(score);
    }
  }

  /** RowSum with a declared schema of float32 columns a and b. */
  static final class DeclaredSumModel extends RowSumModel {
    @Override
    public String name() {
      return "sum-ab";
    }

    @Override
    public Schema inputSchema() {
      return floatSchema("a", "b");
    }

    @Override
    public Schema outputSchema() {
      return new Schema(List.of(new Field("score", FieldType.nullable(FLOAT32), null)));
    }
  }

  /** Echoes batches, but throws on batch {@code failAt}. */
  static final class FailingModel extends ModelService {
    private final long failAt;
    private final RuntimeException error;

    FailingModel(long failAt, RuntimeException error) {
      this.failAt = failAt;
      this.error = error;
    }

    @Override
    public String name() {
      return "failing";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      if (ctx.batchIndex() == failAt) {
        throw error;
      }
      return input;
    }
  }

  /** Returns one row fewer than it was given. */
  static final class ShortModel extends ModelService {
    @Override
    public String name() {
      return "short";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      Float4Vector out = new Float4Vector("x", ctx.allocator());
      out.allocateNew(Math.max(0, input.getRowCount() - 1));
      out.setValueCount(Math.max(0, input.getRowCount() - 1));
      return VectorSchemaRoot.of(out);
    }
  }

  /** Blocks each batch until released or the call is cancelled; counts cancellations seen. */
  static final class BlockingModel extends ModelService {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile boolean sawCancellation;

    @Override
    public String name() {
      return "blocking";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
        throws InterruptedException {
      entered.countDown();
      while (!release.await(10, TimeUnit.MILLISECONDS)) {
        if (ctx.isCancelled()) {
          sawCancellation = true;
          throw new PredictException(Status.Code.CANCELLED, "cancelled");
        }
      }
      return input;
    }
  }
}
