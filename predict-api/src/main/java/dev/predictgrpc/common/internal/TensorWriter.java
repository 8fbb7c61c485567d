/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.predictgrpc.common.PredictException;
import inference.OpenInferenceGrpc.InferTensorContents;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;

/**
 * Writes Arrow columns as one Open Inference Protocol tensor, typed {@code contents} or raw
 * little-endian row-major bytes: element {@code r * K + c} is column {@code c} of row {@code r}.
 * The columns stay owned by the caller and are only read. Stateless and thread-safe.
 */
public final class TensorWriter {
  private TensorWriter() {}

  /**
   * Checks that {@code columns} (the columns of {@code tensor}) can be sent: a datatype carries
   * them and they hold no nulls, which the protocol cannot express.
   *
   * @param role e.g. {@code "output"}, for messages
   * @throws PredictException naming the tensor: FAILED_PRECONDITION if it cannot be sent
   */
  public static OipDatatype check(
      String role, TensorLayout.Tensor tensor, List<FieldVector> columns) {
    OipDatatype type = tensor.datatype();
    if (type == null) {
      throw new PredictException(
          Status.Code.FAILED_PRECONDITION,
          role
              + " '"
              + tensor.name()
              + "' has Arrow type "
              + tensor.datatypeName()
              + ", which no Open Inference Protocol datatype carries");
    }
    for (FieldVector column : columns) {
      if (column.getNullCount() > 0) {
        throw new PredictException(
            Status.Code.FAILED_PRECONDITION,
            role
                + " '"
                + tensor.name()
                + "' has "
                + column.getNullCount()
                + " nulls in column '"
                + column.getName()
                + "', which the Open Inference Protocol cannot carry");
      }
    }
    return type;
  }

  /** At most how many bytes the tensor's elements take on the wire, raw or typed. */
  public static long sizeBound(OipDatatype type, List<FieldVector> columns, int rows, boolean raw) {
    long elements = (long) rows * columns.size();
    if (type != OipDatatype.BYTES) {
      int perElement =
          raw
              ? type.elementBytes()
              : switch (type) {
                // Packed varints: up to 10 bytes, a negative int32 too; unsigned 32-bit up to 5.
                case INT8, INT16, INT32, INT64, UINT64 -> 10;
                case UINT8, UINT16, UINT32 -> 5;
                default -> type.elementBytes(); // BOOL, FP32, FP64: fixed width when packed
              };
      return elements * perElement;
    }
    long bytes = elements * 6; // A 4-byte length prefix, or a tag and a length of up to 5 bytes.
    if (rows == 0) {
      return 0; // An unallocated column's offset buffer is empty: nothing to read.
    }
    for (FieldVector column : columns) {
      ArrowBuf offsets = ((BaseVariableWidthVector) column).getOffsetBuffer();
      bytes += offsets.getInt((long) rows * 4) - offsets.getInt(0);
    }
    return bytes;
  }

  /** The columns as raw contents. */
  public static ByteString raw(OipDatatype type, List<FieldVector> columns, int rows) {
    int width = columns.size();
    if (type == OipDatatype.BYTES) {
      ByteString.Output out = ByteString.newOutput();
      byte[] length = new byte[4];
      ByteBuffer lengthBuffer = ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN);
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < width; c++) {
          byte[] value = ((BaseVariableWidthVector) columns.get(c)).get(r);
          lengthBuffer.putInt(0, value.length);
          out.write(length, 0, 4);
          out.write(value, 0, value.length);
        }
      }
      return out.toByteString();
    }
    int bytes = type.elementBytes();
    byte[] target = new byte[Math.multiplyExact(Math.multiplyExact(rows, width), bytes)];
    if (type == OipDatatype.BOOL) {
      for (int r = 0; r < rows; r++) {
        for (int c = 0; c < width; c++) {
          target[r * width + c] = (byte) ((BitVector) columns.get(c)).get(r);
        }
      }
    } else if (width == 1) {
      // Arrow's buffers are little-endian, as raw contents are: one bulk copy.
      columns.get(0).getDataBuffer().getBytes(0, target, 0, target.length);
    } else {
      ByteBuffer out = ByteBuffer.wrap(target).order(ByteOrder.LITTLE_ENDIAN);
      for (int c = 0; c < width; c++) {
        ArrowBuf source = columns.get(c).getDataBuffer();
        for (int r = 0; r < rows; r++) {
          int at = (r * width + c) * bytes;
          switch (bytes) {
            case 1 -> out.put(at, source.getByte(r));
            case 2 -> out.putShort(at, source.getShort((long) r * 2));
            case 4 -> out.putInt(at, source.getInt((long) r * 4));
            default -> out.putLong(at, source.getLong((long) r * 8));
          }
        }
      }
    }
    // The array is not shared or modified after this.
    return UnsafeByteOperations.unsafeWrap(target);
  }

  /**
   * The columns as typed contents.
   *
   * @throws PredictException FAILED_PRECONDITION for FP16, which only raw contents carry
   */
  public static InferTensorContents contents(
      OipDatatype type, List<FieldVector> columns, int rows) {
    InferTensorContents.Builder out = InferTensorContents.newBuilder();
    int width = columns.size();
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < width; c++) {
        FieldVector column = columns.get(c);
        ArrowBuf data = type == OipDatatype.BYTES ? null : column.getDataBuffer();
        switch (type) {
          case BOOL -> out.addBoolContents(((BitVector) column).get(r) != 0);
          case INT8 -> out.addIntContents(data.getByte(r));
          case INT16 -> out.addIntContents(data.getShort((long) r * 2));
          case INT32 -> out.addIntContents(data.getInt((long) r * 4));
          case INT64 -> out.addInt64Contents(data.getLong((long) r * 8));
          case UINT8 -> out.addUintContents(data.getByte(r) & 0xFF);
          case UINT16 -> out.addUintContents(data.getShort((long) r * 2) & 0xFFFF);
          case UINT32 -> out.addUintContents(data.getInt((long) r * 4));
          case UINT64 -> out.addUint64Contents(data.getLong((long) r * 8));
          case FP32 -> out.addFp32Contents(data.getFloat((long) r * 4));
          case FP64 -> out.addFp64Contents(data.getDouble((long) r * 8));
          case BYTES ->
              out.addBytesContents(
                  UnsafeByteOperations.unsafeWrap(((BaseVariableWidthVector) column).get(r)));
          case FP16 ->
              throw new PredictException(
                  Status.Code.FAILED_PRECONDITION,
                  "FP16 tensors are sent only as raw contents; send raw_input_contents to get"
                      + " raw_output_contents");
        }
      }
    }
    return out.build();
  }
}
