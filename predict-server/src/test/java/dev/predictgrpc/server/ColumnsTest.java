/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ColumnsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static Field field(String name, ArrowType type) {
    return new Field(name, FieldType.nullable(type), null);
  }

  private VectorSchemaRoot allTypes() {
    Schema schema =
        new Schema(
            List.of(
                field("f", TestModel.FLOAT4),
                field("d", new ArrowType.FloatingPoint(
                    org.apache.arrow.vector.types.FloatingPointPrecision.DOUBLE)),
                field("i", new ArrowType.Int(32, true)),
                field("l", new ArrowType.Int(64, true)),
                field("b", ArrowType.Bool.INSTANCE),
                field("s", ArrowType.Utf8.INSTANCE),
                new Field(
                    "cat",
                    new FieldType(
                        true,
                        new ArrowType.Int(32, true),
                        new DictionaryEncoding(1, false, new ArrowType.Int(32, true))),
                    null)));
    VectorSchemaRoot root = VectorSchemaRoot.create(schema, arrow.allocator());
    root.allocateNew();
    root.setRowCount(1);
    return root;
  }

  @Test
  void typedAccessors_returnArrowsOwnVectors() {
    try (VectorSchemaRoot input = allTypes()) {
      assertThat(Columns.float32(input, "f")).isSameAs(input.getVector("f"));
      assertThat(Columns.float64(input, "d")).isInstanceOf(Float8Vector.class);
      assertThat(Columns.int32(input, "i")).isInstanceOf(IntVector.class);
      assertThat(Columns.int64(input, "l")).isInstanceOf(BigIntVector.class);
      assertThat(Columns.bool(input, "b")).isInstanceOf(BitVector.class);
      assertThat(Columns.utf8(input, "s")).isInstanceOf(VarCharVector.class);
      assertThat(Columns.column(input, "cat", IntVector.class)).isSameAs(input.getVector("cat"));
    }
  }

  @Test
  void wrongType_isInvalidArgumentNamingColumnAndBothTypes() {
    try (VectorSchemaRoot input = allTypes()) {
      assertThatThrownBy(() -> Columns.float32(input, "i"))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessage("input column 'i' has type Int(32, true) (expected: FloatingPoint(SINGLE))");
      assertThatThrownBy(() -> Columns.column(input, "s", Float4Vector.class))
          .isInstanceOf(PredictException.class)
          .hasMessage("input column 's' has type Utf8 (expected: FloatingPoint(SINGLE))");
    }
  }

  @Test
  void dictionaryEncodedColumn_isNotTakenForPlainInts() {
    try (VectorSchemaRoot input = allTypes()) {
      assertThatThrownBy(() -> Columns.int32(input, "cat"))
          .isInstanceOf(PredictException.class)
          .hasMessageContaining("'cat'")
          .hasMessageContaining("dictionary-encoded");
    }
  }

  @Test
  void missingColumn_isInvalidArgumentListingTheColumnsThereAre() {
    try (VectorSchemaRoot input = allTypes()) {
      assertThatThrownBy(() -> Columns.float32(input, "nope"))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT))
          .hasMessage("the input has no column 'nope'; its columns are [f, d, i, l, b, s, cat]");
    }
  }
}
