/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import inference.OpenInferenceGrpc.InferTensorContents;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VarCharVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

class TensorReaderTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Raw BYTES contents: each element a little-endian length, then its bytes. */
  private static ByteString rawStrings(List<String> values) {
    ByteString.Output out = ByteString.newOutput();
    ByteBuffer length = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    for (String value : values) {
      byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
      out.write(length.putInt(0, bytes.length).array(), 0, 4);
      out.write(bytes, 0, bytes.length);
    }
    return out.toByteString();
  }

  /** Reads a raw BYTES tensor of {@code rows} rows of {@code values.size() / rows} columns. */
  private List<FieldVector> readRaw(List<String> values, int rows) {
    int width = values.size() / rows;
    TensorReader.Data data =
        new TensorReader.Data(
            "input",
            "s",
            "BYTES",
            List.of((long) rows, (long) width),
            InferTensorContents.getDefaultInstance(),
            rawStrings(values));
    TensorReader.check(data, OipDatatype.BYTES, rows, width);
    return TensorReader.read(
        data,
        OipDatatype.BYTES,
        TensorLayout.columnsFor("s", OipDatatype.BYTES, width, true).columns(),
        rows,
        arrow.allocator());
  }

  @Test
  void rawBytesMatrix_eachColumnGetsItsOwnElements() {
    List<FieldVector> columns = readRaw(List.of("r0c0", "r0c1", "r0c2", "r1c0", "", "r1c2-é"), 2);
    try {
      assertThat(columns).hasSize(3);
      List<String> got = new ArrayList<>();
      for (FieldVector column : columns) {
        for (int r = 0; r < 2; r++) {
          got.add(((VarCharVector) column).getObject(r).toString());
        }
      }
      assertThat(got).containsExactly("r0c0", "r1c0", "r0c1", "", "r0c2", "r1c2-é");
    } finally {
      columns.forEach(FieldVector::close);
    }
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  void wideRawBytesTensor_isParsedOnceNotOncePerColumn() {
    // [2, 20000]: parsing the 40,000 elements once per column would take 20,000 parses.
    int width = 20_000;
    List<String> values = new ArrayList<>(2 * width);
    for (int e = 0; e < 2 * width; e++) {
      values.add(Integer.toString(e));
    }
    List<FieldVector> columns = readRaw(values, 2);
    try {
      assertThat(columns).hasSize(width);
      VarCharVector last = (VarCharVector) columns.get(width - 1);
      assertThat(last.getObject(0).toString()).isEqualTo(Integer.toString(width - 1));
      assertThat(last.getObject(1).toString()).isEqualTo(Integer.toString(2 * width - 1));
    } finally {
      columns.forEach(FieldVector::close);
    }
  }
}
