/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class OutputBuilderTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private OutputBuilder output(int rows) {
    return new OutputBuilder(arrow.allocator(), rows);
  }

  @Test
  void typedColumns_startAllNull_andBuildSetsEveryColumnsRowCount() {
    try (OutputBuilder out = output(5)) {
      Float4Vector score = out.float32("score");
      VarCharVector label = out.utf8("label");
      out.float64("d");
      out.int32("i");
      out.int64("l");
      out.bool("b");
      score.set(1, 2.5f);
      label.setSafe(3, "three".getBytes(StandardCharsets.UTF_8));
      try (VectorSchemaRoot root = out.build()) {
        assertThat(root.getRowCount()).isEqualTo(5);
        assertThat(root.getSchema().getFields())
            .extracting(Field::getName)
            .containsExactly("score", "label", "d", "i", "l", "b");
        assertThat(root.getSchema().getFields()).allMatch(Field::isNullable);
        for (FieldVector vector : root.getFieldVectors()) {
          assertThat(vector.getValueCount()).isEqualTo(5);
        }
        assertThat(score.getNullCount()).isEqualTo(4);
        assertThat(score.get(1)).isEqualTo(2.5f);
        assertThat(label.isNull(4)).isTrue();
        assertThat(label.getObject(3).toString()).isEqualTo("three");
        assertThat(root.getVector("l").getNullCount()).isEqualTo(5);
      }
    }
  }

  @Test
  void closeWithoutBuild_releasesTheColumns_andCloseAfterBuildLeavesTheRootAlone() {
    OutputBuilder abandoned = output(1000);
    abandoned.float32("a");
    abandoned.utf8("b");
    assertThat(arrow.allocator().getAllocatedMemory()).isPositive();
    abandoned.close();
    assertThat(arrow.allocator().getAllocatedMemory()).isZero();
    assertThatThrownBy(() -> abandoned.float32("c")).isInstanceOf(IllegalStateException.class);

    VectorSchemaRoot root;
    try (OutputBuilder out = output(3)) {
      out.float32("a").set(0, 1f);
      root = out.build();
    }
    try (VectorSchemaRoot owned = root) {
      assertThat(((Float4Vector) owned.getVector("a")).get(0)).isEqualTo(1f);
    }
  }

  @Test
  void column_makesAnyFieldExactlyAsGiven() {
    Field ts =
        new Field(
            "at",
            FieldType.notNullable(new ArrowType.Timestamp(TimeUnit.MICROSECOND, "UTC")),
            null);
    try (OutputBuilder out = output(2)) {
      TimeStampMicroTZVector at = (TimeStampMicroTZVector) out.column(ts);
      at.set(0, 10L);
      at.set(1, 20L);
      try (VectorSchemaRoot root = out.build()) {
        assertThat(root.getSchema().getFields()).containsExactly(ts);
        assertThat(at.get(1)).isEqualTo(20L);
      }
    }
  }

  @Test
  void zeroRows_buildsAnEmptyBatch() {
    try (OutputBuilder out = output(0)) {
      out.float32("a");
      out.utf8("s");
      try (VectorSchemaRoot root = out.build()) {
        assertThat(root.getRowCount()).isZero();
        assertThat(root.getFieldVectors()).hasSize(2);
      }
    }
  }

  @Test
  void misuse_failsWithAMessageNamingIt() {
    assertThatThrownBy(() -> output(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("rows: -1");
    try (OutputBuilder out = output(1)) {
      out.float32("a");
      assertThatThrownBy(() -> out.int32("a"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("'a' was added twice");
      out.build().close();
      assertThatThrownBy(out::build).isInstanceOf(IllegalStateException.class);
    }
  }
}
