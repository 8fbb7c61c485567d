/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VarCharVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class TensorWriterTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void sizeBound_ofZeroRowsOfAnUnallocatedStringColumn_isZero() {
    try (VarCharVector s = new VarCharVector("s", arrow.allocator())) {
      // Never allocated nor given a value count (setValueCount(0) would allocate): its offset
      // buffer is empty.
      List<FieldVector> columns = List.of(s);
      assertThat(TensorWriter.sizeBound(OipDatatype.BYTES, columns, 0, true)).isZero();
      assertThat(TensorWriter.sizeBound(OipDatatype.BYTES, columns, 0, false)).isZero();
    }
  }

  @Test
  void sizeBound_ofStrings_isTheirBytesPlusRoomForEachLength() {
    try (VarCharVector s = new VarCharVector("s", arrow.allocator())) {
      s.allocateNew(2);
      s.setSafe(0, "abc".getBytes(StandardCharsets.UTF_8));
      s.setSafe(1, "de".getBytes(StandardCharsets.UTF_8));
      s.setValueCount(2);
      assertThat(TensorWriter.sizeBound(OipDatatype.BYTES, List.of(s), 2, true))
          .isEqualTo(5 + 2 * 6);
    }
  }
}
