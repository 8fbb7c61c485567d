/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;

/** A batch with one column of each common Arrow type; every third row is null. */
final class AllTypes {
  private AllTypes() {}

  static VectorSchemaRoot create(BufferAllocator allocator, int rows, int seed) {
    TinyIntVector i8 = new TinyIntVector("i8", allocator);
    SmallIntVector i16 = new SmallIntVector("i16", allocator);
    IntVector i32 = new IntVector("i32", allocator);
    BigIntVector i64 = new BigIntVector("i64", allocator);
    Float4Vector f32 = new Float4Vector("f32", allocator);
    Float8Vector f64 = new Float8Vector("f64", allocator);
    BitVector bool = new BitVector("bool", allocator);
    VarCharVector utf8 = new VarCharVector("utf8", allocator);
    VarBinaryVector binary = new VarBinaryVector("binary", allocator);
    TimeStampMicroTZVector ts = new TimeStampMicroTZVector("ts", allocator, "UTC");
    DateDayVector date = new DateDayVector("date", allocator);
    DecimalVector decimal = new DecimalVector("decimal", allocator, 38, 10);
    ListVector list = ListVector.empty("list", allocator);
    list.addOrGetVector(FieldType.nullable(new ArrowType.Int(32, true)));
    StructVector struct = StructVector.empty("struct", allocator);
    IntVector structA =
        struct.addOrGet("a", FieldType.nullable(new ArrowType.Int(32, true)), IntVector.class);
    VarCharVector structB =
        struct.addOrGet("b", FieldType.nullable(new ArrowType.Utf8()), VarCharVector.class);
    List<FieldVector> all =
        List.of(i8, i16, i32, i64, f32, f64, bool, utf8, binary, ts, date, decimal, list, struct);
    all.forEach(FieldVector::allocateNew);
    UnionListWriter listWriter = list.getWriter();
    for (int r = 0; r < rows; r++) {
      int v = r + seed;
      if (r % 3 == 2) {
        for (FieldVector vector : all) {
          if (vector != list && vector != struct) {
            vector.setNull(r);
          }
        }
        listWriter.setPosition(r);
        listWriter.writeNull();
        struct.setNull(r);
        continue;
      }
      i8.setSafe(r, (byte) v);
      i16.setSafe(r, (short) (v * 7));
      i32.setSafe(r, v * 1000);
      i64.setSafe(r, v * 1_000_000_007L);
      f32.setSafe(r, v * 0.5f);
      f64.setSafe(r, v * 0.25);
      bool.setSafe(r, v % 2);
      utf8.setSafe(r, ("row-" + v + "-ü").getBytes(StandardCharsets.UTF_8));
      binary.setSafe(r, new byte[] {(byte) v, 0, (byte) -v});
      ts.setSafe(r, 1_700_000_000_000_000L + v);
      date.setSafe(r, 19_000 + v);
      decimal.setSafe(r, new BigDecimal(v).movePointLeft(3).setScale(10));
      listWriter.setPosition(r);
      listWriter.startList();
      for (int k = 0; k < r % 4; k++) {
        listWriter.integer().writeInt(v + k);
      }
      listWriter.endList();
      struct.setIndexDefined(r);
      structA.setSafe(r, v);
      structB.setSafe(r, ("s" + v).getBytes(StandardCharsets.UTF_8));
    }
    listWriter.setValueCount(rows);
    for (FieldVector vector : all) {
      vector.setValueCount(rows);
    }
    structA.setValueCount(rows);
    structB.setValueCount(rows);
    return new VectorSchemaRoot(all);
  }

  /**
   * Streams three all-types batches (10 rows, none, 1000) through {@code client}'s echo model and
   * checks each result equals its input.
   */
  static void assertEchoRoundTrip(PredictClient client, BufferAllocator allocator) {
    List<VectorSchemaRoot> batches =
        List.of(create(allocator, 10, 0), create(allocator, 0, 1), create(allocator, 1000, 2));
    try (PredictionStream results = client.predictStream(ModelRef.of("echo"), batches.iterator())) {
      for (VectorSchemaRoot expected : batches) {
        if (!results.next() || !results.root().equals(expected)) {
          throw new AssertionError("an echoed all-types batch differs from what was sent");
        }
      }
      if (results.next()) {
        throw new AssertionError("more results than batches");
      }
    } finally {
      batches.forEach(VectorSchemaRoot::close);
    }
  }
}
