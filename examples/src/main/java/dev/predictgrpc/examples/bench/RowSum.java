/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.util.List;
import org.apache.arrow.memory.util.MemoryUtil;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The score model's work, shared by predict-grpc and Flight so both do exactly the same thing: the
 * sum of the float32 columns of each row, read and written straight from Arrow memory (no boxing,
 * no per-value bounds checks). Sums are added in column order, as every baseline does, so all
 * transports return bit-identical scores.
 */
final class RowSum {
  private RowSum() {}

  /**
   * Fills {@code out} with the row sums of {@code input}'s columns, which must all be float32
   * without nulls. The caller retains ownership of both.
   */
  static void compute(VectorSchemaRoot input, Float4Vector out) {
    int rows = input.getRowCount();
    List<FieldVector> columns = input.getFieldVectors();
    long[] addresses = new long[columns.size()];
    for (int c = 0; c < addresses.length; c++) {
      FieldVector column = columns.get(c);
      if (!(column instanceof Float4Vector)) {
        throw new IllegalArgumentException(
            "column " + column.getName() + ": " + column.getMinorType() + " (expected: FLOAT4)");
      }
      addresses[c] = column.getDataBuffer().memoryAddress();
    }
    out.allocateNew(rows);
    long target = out.getDataBuffer().memoryAddress();
    for (int r = 0; r < rows; r++) {
      long offset = (long) r * Float.BYTES;
      float sum = 0;
      for (long address : addresses) {
        sum += Float.intBitsToFloat(MemoryUtil.getInt(address + offset));
      }
      MemoryUtil.putInt(target + offset, Float.floatToRawIntBits(sum));
    }
    out.getValidityBuffer().setOne(0L, (long) BitVectorHelper.getValidityBufferSizeFromCount(rows));
    out.setValueCount(rows);
  }
}
