/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class TensorLayoutTest {
  private static final ArrowType F32 = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
  private static final ArrowType I64 = new ArrowType.Int(64, true);

  private static Field column(String name, ArrowType type) {
    return new Field(name, FieldType.notNullable(type), null);
  }

  private static Field tagged(String name, ArrowType type, String tensor) {
    return new Field(
        name, new FieldType(false, type, null, Map.of(TensorLayout.TENSOR_KEY, tensor)), null);
  }

  private static String describe(TensorLayout layout) {
    StringBuilder out = new StringBuilder();
    for (TensorLayout.Tensor t : layout.tensors()) {
      out.append(t.name()).append(' ').append(t.datatypeName()).append(' ').append(t.shape(-1));
      out.append("; ");
    }
    return out.toString();
  }

  @Test
  void singleColumnsAreVectors_numberedColumnsFormOneMatrix() {
    Schema schema =
        new Schema(
            List.of(
                column("label", I64),
                column("p_0", F32),
                column("p_1", F32),
                column("p_2", F32),
                column("q_1", F32)));
    assertThat(describe(TensorLayout.of(schema)))
        .isEqualTo("label INT64 [-1]; p FP32 [-1, 3]; q_1 FP32 [-1]; ");
  }

  @Test
  void metadataNamesTheTensor_whateverTheColumnNames() {
    Schema schema =
        new Schema(
            List.of(
                tagged("sepal_length", F32, "features"),
                tagged("sepal_width", F32, "features"),
                tagged("single", F32, "one"),
                column("x", F32)));
    assertThat(describe(TensorLayout.of(schema)))
        .isEqualTo("features FP32 [-1, 2]; one FP32 [-1, 1]; x FP32 [-1]; ");
  }

  @Test
  void numberedColumns_stayApartWhenTypesDifferOrTheBaseNameIsTaken() {
    Schema mixed = new Schema(List.of(column("a_0", F32), column("a_1", I64)));
    assertThat(describe(TensorLayout.of(mixed))).isEqualTo("a FP32 [-1, 1]; a_1 INT64 [-1]; ");
    Schema taken = new Schema(List.of(column("b", F32), column("b_0", F32), column("b_1", F32)));
    assertThat(describe(TensorLayout.of(taken)))
        .isEqualTo("b FP32 [-1]; b_0 FP32 [-1]; b_1 FP32 [-1]; ");
  }

  @Test
  void twoTensorsOfOneName_areReportedAsADuplicate() {
    Schema splitByType =
        new Schema(List.of(tagged("a", F32, "t"), tagged("b", F32, "t"), tagged("c", I64, "t")));
    assertThat(describe(TensorLayout.of(splitByType)))
        .isEqualTo("t FP32 [-1, 2]; t INT64 [-1, 1]; ");
    assertThat(TensorLayout.of(splitByType).duplicate()).isEqualTo("t");
    Schema columnNamedAsGroup = new Schema(List.of(tagged("a", F32, "t"), column("t", I64)));
    assertThat(TensorLayout.of(columnNamedAsGroup).duplicate()).isEqualTo("t");
    Schema distinct = new Schema(List.of(tagged("a", F32, "t"), column("u", I64)));
    assertThat(TensorLayout.of(distinct).duplicate()).isNull();
  }

  @Test
  void columnsNoDatatypeCarries_showTheirArrowType() {
    Schema schema =
        new Schema(List.of(column("t", new ArrowType.Timestamp(TimeUnit.SECOND, null))));
    TensorLayout.Tensor tensor = TensorLayout.of(schema).tensors().get(0);
    assertThat(tensor.datatype()).isNull();
    assertThat(tensor.datatypeName()).startsWith("Timestamp");
  }
}
