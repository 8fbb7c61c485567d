/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.jspecify.annotations.Nullable;

/**
 * The tensor data types of the Open Inference Protocol and the Arrow type each maps to. BYTES is a
 * string column ({@code Utf8}) by default; a declared {@code Binary} column takes BYTES as well.
 * Immutable.
 */
public enum OipDatatype {
  BOOL(1, ArrowType.Bool.INSTANCE),
  UINT8(1, new ArrowType.Int(8, false)),
  UINT16(2, new ArrowType.Int(16, false)),
  UINT32(4, new ArrowType.Int(32, false)),
  UINT64(8, new ArrowType.Int(64, false)),
  INT8(1, new ArrowType.Int(8, true)),
  INT16(2, new ArrowType.Int(16, true)),
  INT32(4, new ArrowType.Int(32, true)),
  INT64(8, new ArrowType.Int(64, true)),
  FP16(2, new ArrowType.FloatingPoint(FloatingPointPrecision.HALF)),
  FP32(4, new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE)),
  FP64(8, new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
  /**
   * Variable-length elements; raw form: each element as a 4-byte little-endian length, then its
   * bytes.
   */
  BYTES(0, ArrowType.Utf8.INSTANCE);

  private final int elementBytes;
  private final ArrowType arrowType;

  OipDatatype(int elementBytes, ArrowType arrowType) {
    this.elementBytes = elementBytes;
    this.arrowType = arrowType;
  }

  /** Bytes per element in raw contents (BOOL: one byte); 0 for BYTES. */
  public int elementBytes() {
    return elementBytes;
  }

  /** The Arrow type a column of this datatype gets when no schema says otherwise. */
  public ArrowType arrowType() {
    return arrowType;
  }

  /** The datatype named {@code name} (as on the wire, e.g. {@code FP32}), or null. */
  public static @Nullable OipDatatype parse(String name) {
    for (OipDatatype type : values()) {
      if (type.name().equals(name)) {
        return type;
      }
    }
    return null;
  }

  /** The datatype that carries columns of {@code type}, or null if none does. */
  public static @Nullable OipDatatype of(ArrowType type) {
    if (type instanceof ArrowType.Utf8 || type instanceof ArrowType.Binary) {
      return BYTES;
    }
    for (OipDatatype datatype : values()) {
      if (datatype.arrowType.equals(type)) {
        return datatype;
      }
    }
    return null;
  }
}
