/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * Builds a model's output batch: columns allocated from the call's allocator with room for a fixed
 * number of rows, handed back as one root. Get one from {@link PredictContext#output(int)}.
 *
 * <pre>{@code
 * Float4Vector x = Columns.float32(input, "x");
 * try (OutputBuilder out = ctx.output(input.getRowCount())) {
 *   Float4Vector score = out.float32("score");
 *   VarCharVector label = out.utf8("label");
 *   for (int i = 0; i < out.rows(); i++) {
 *     if (x.isNull(i)) {
 *       continue;                                // rows never set stay null
 *     }
 *     score.set(i, 2 * x.get(i));
 *     label.setSafe(i, (x.get(i) > 0 ? "pos" : "neg").getBytes(UTF_8));
 *   }
 *   return out.build();                          // the library closes it after sending
 * }
 * }</pre>
 *
 * <p><b>Columns.</b> Each column method returns Arrow's own vector, allocated for {@link #rows()}
 * rows and with every row null, so the loop that fills it is Arrow's {@code set} and nothing else:
 * no per-row cost is added. Fixed-width vectors have room for every row, so use {@code set};
 * string vectors grow as needed, so use {@code setSafe}. The typed methods make nullable fields;
 * {@link #column(Field)} makes any field exactly as given, e.g. one taken from the model's declared
 * output schema. (The server compares an output with the declared schema by names and types, not
 * nullability.)
 *
 * <p><b>Ownership.</b> The columns belong to this builder until {@link #build()}; ownership of the
 * root it returns passes to the caller (a model returns it from {@code predict}, and the library
 * closes it after sending). {@link #close()} releases the columns if {@code build()} was never
 * called, so with try-with-resources a model that fails half-way leaks nothing.
 *
 * <p>Not thread-safe: one builder serves one {@code predict} call.
 *
 * @since 0.1
 */
public final class OutputBuilder implements AutoCloseable {
  private static final FieldType FLOAT32 =
      FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));
  private static final FieldType FLOAT64 =
      FieldType.nullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE));
  private static final FieldType INT32 = FieldType.nullable(new ArrowType.Int(32, true));
  private static final FieldType INT64 = FieldType.nullable(new ArrowType.Int(64, true));
  private static final FieldType BOOL = FieldType.nullable(ArrowType.Bool.INSTANCE);
  private static final FieldType UTF8 = FieldType.nullable(ArrowType.Utf8.INSTANCE);

  private final BufferAllocator allocator;
  private final int rows;
  private final List<FieldVector> vectors = new ArrayList<>();
  private boolean built;

  /**
   * A builder of a batch of {@code rows} rows whose columns {@code allocator} holds.
   *
   * @throws IllegalArgumentException if {@code rows} is negative
   */
  OutputBuilder(BufferAllocator allocator, int rows) {
    this.allocator = requireNonNull(allocator, "allocator");
    if (rows < 0) {
      throw new IllegalArgumentException("rows: " + rows + " (expected: >= 0)");
    }
    this.rows = rows;
  }

  /** The number of rows every column holds. */
  public int rows() {
    return rows;
  }

  /** Adds a nullable float32 column. Borrowed: the builder owns it; fill it, do not close it. */
  public Float4Vector float32(String name) {
    return add(new Field(name, FLOAT32, null), Float4Vector.class);
  }

  /** Adds a nullable float64 column. Borrowed: the builder owns it; fill it, do not close it. */
  public Float8Vector float64(String name) {
    return add(new Field(name, FLOAT64, null), Float8Vector.class);
  }

  /** Adds a nullable int32 column. Borrowed: the builder owns it; fill it, do not close it. */
  public IntVector int32(String name) {
    return add(new Field(name, INT32, null), IntVector.class);
  }

  /** Adds a nullable int64 column. Borrowed: the builder owns it; fill it, do not close it. */
  public BigIntVector int64(String name) {
    return add(new Field(name, INT64, null), BigIntVector.class);
  }

  /** Adds a nullable boolean column. Borrowed: the builder owns it; fill it, do not close it. */
  public BitVector bool(String name) {
    return add(new Field(name, BOOL, null), BitVector.class);
  }

  /**
   * Adds a nullable UTF-8 string column; set values with {@code setSafe}, which grows the data
   * buffer as needed. Borrowed: the builder owns it; fill it, do not close it.
   */
  public VarCharVector utf8(String name) {
    return add(new Field(name, UTF8, null), VarCharVector.class);
  }

  /**
   * Adds a column of any Arrow type, exactly as {@code field} describes it (name, type,
   * nullability, children), with room for {@link #rows()} values where the type allows and every
   * row null. Borrowed: the builder owns it; fill it, do not close it.
   *
   * @throws IllegalArgumentException if a column of that name was already added
   * @throws IllegalStateException if the batch was already built
   */
  public FieldVector column(Field field) {
    return add(requireNonNull(field, "field"), FieldVector.class);
  }

  /**
   * Sets every column's value count to {@link #rows()} and returns them as one root, in the order
   * they were added. Ownership of the returned root passes to the caller, who must close it (a
   * model returns it, and the library closes it after sending).
   *
   * @throws IllegalStateException if the batch was already built
   */
  public VectorSchemaRoot build() {
    checkNotBuilt();
    List<Field> fields = new ArrayList<>(vectors.size());
    for (FieldVector vector : vectors) {
      // For string columns this also fills the offsets of rows left null.
      vector.setValueCount(rows);
      fields.add(vector.getField());
    }
    built = true;
    return new VectorSchemaRoot(fields, new ArrayList<>(vectors), rows);
  }

  /** Releases the columns if {@link #build()} was not called; after it, does nothing. */
  @Override
  public void close() {
    if (!built) {
      vectors.forEach(FieldVector::close);
      vectors.clear();
      built = true;
    }
  }

  private <V extends FieldVector> V add(Field field, Class<V> type) {
    checkNotBuilt();
    for (FieldVector existing : vectors) {
      if (existing.getName().equals(field.getName())) {
        throw new IllegalArgumentException(
            "output column '" + field.getName() + "' was added twice");
      }
    }
    FieldVector vector = field.createVector(allocator);
    try {
      // setInitialCapacity + allocateNew works for every vector type and zeroes the validity
      // buffers, so every row starts null.
      vector.setInitialCapacity(rows);
      vector.allocateNew();
      vectors.add(vector);
    } catch (RuntimeException e) {
      vector.close();
      throw e;
    }
    return type.cast(vector);
  }

  private void checkNotBuilt() {
    if (built) {
      throw new IllegalStateException("the output was already built (or the builder closed)");
    }
  }
}
