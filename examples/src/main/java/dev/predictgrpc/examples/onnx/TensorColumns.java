/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.ValueInfo;
import dev.predictgrpc.server.OpenInference;
import dev.predictgrpc.server.OutputBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.jspecify.annotations.Nullable;

/**
 * The mapping between one ONNX tensor and Arrow columns.
 *
 * <table>
 *   <caption>Mapping</caption>
 *   <tr><th>ONNX tensor</th><th>Arrow</th></tr>
 *   <tr><td>shape {@code [N]}</td><td>one column named after the tensor</td></tr>
 *   <tr><td>shape {@code [N, K]}</td><td>K columns, one per feature, row-major in the tensor</td></tr>
 *   <tr><td>float, double</td><td>FloatingPoint(SINGLE), FloatingPoint(DOUBLE)</td></tr>
 *   <tr><td>int32, int64</td><td>Int(32, true), Int(64, true)</td></tr>
 * </table>
 *
 * <p>Columns are not nullable. Values move between Arrow and tensor memory as raw 4- or 8-byte
 * words: one bulk copy for a single column, a strided copy per column otherwise; nothing is boxed.
 * Immutable and thread-safe.
 */
final class TensorColumns {
  private final String name;
  private final OnnxJavaType type;
  private final ArrowType arrowType;
  private final int elementBytes;
  private final boolean matrix;
  private final List<String> columnNames;

  private TensorColumns(
      String name, OnnxJavaType type, ArrowType arrowType, int elementBytes, boolean matrix,
      List<String> columnNames) {
    this.name = name;
    this.type = type;
    this.arrowType = arrowType;
    this.elementBytes = elementBytes;
    this.matrix = matrix;
    this.columnNames = columnNames;
  }

  /**
   * Maps a model input or output.
   *
   * @param names column names for a {@code [N, K]} tensor, or null for {@code <name>_<i>}
   * @throws IllegalArgumentException for tensors this adapter cannot map, naming the tensor
   */
  static TensorColumns of(String name, ValueInfo info, @Nullable List<String> names) {
    if (!(info instanceof TensorInfo)) {
      throw new IllegalArgumentException(
          "ONNX value '" + name + "' is not a tensor (" + info + "); only tensors are supported");
    }
    TensorInfo tensor = (TensorInfo) info;
    long[] shape = tensor.getShape();
    ArrowType arrowType;
    int bytes;
    switch (tensor.type) {
      case FLOAT:
        arrowType = new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
        bytes = 4;
        break;
      case DOUBLE:
        arrowType = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
        bytes = 8;
        break;
      case INT32:
        arrowType = new ArrowType.Int(32, true);
        bytes = 4;
        break;
      case INT64:
        arrowType = new ArrowType.Int(64, true);
        bytes = 8;
        break;
      default:
        throw new IllegalArgumentException(
            "ONNX tensor '" + name + "' has element type " + tensor.type
                + "; supported: float, double, int32, int64");
    }
    if (shape.length == 1) {
      return new TensorColumns(name, tensor.type, arrowType, bytes, false, List.of(name));
    }
    if (shape.length != 2 || shape[1] <= 0) {
      throw new IllegalArgumentException(
          "ONNX tensor '" + name + "' has shape " + java.util.Arrays.toString(shape)
              + "; supported: [N] or [N, K] with a fixed K");
    }
    int width = (int) shape[1];
    List<String> columns = new ArrayList<>(width);
    if (names != null) {
      if (names.size() != width) {
        throw new IllegalArgumentException(
            "ONNX tensor '" + name + "' has " + width + " features but " + names.size()
                + " names were given: " + names);
      }
      columns.addAll(names);
    } else {
      for (int i = 0; i < width; i++) {
        columns.add(name + "_" + i);
      }
    }
    return new TensorColumns(name, tensor.type, arrowType, bytes, true, List.copyOf(columns));
  }

  String name() {
    return name;
  }

  int width() {
    return columnNames.size();
  }

  /**
   * The columns' fields; those of an {@code [N, K]} tensor carry the tensor's name as {@link
   * OpenInference#TENSOR_METADATA_KEY}, so that Open Inference Protocol clients see the model's own
   * tensor, whatever its columns are named.
   */
  List<Field> fields() {
    List<Field> fields = new ArrayList<>(width());
    Map<String, String> metadata = matrix ? Map.of(OpenInference.TENSOR_METADATA_KEY, name) : null;
    for (String column : columnNames) {
      fields.add(new Field(column, new FieldType(false, arrowType, null, metadata), null));
    }
    return fields;
  }

  /** Packs the columns' values row-major into a direct buffer ONNX Runtime reads in place. */
  OnnxTensor toTensor(OrtEnvironment env, List<FieldVector> columns, int rows)
      throws OrtException {
    int width = width();
    ByteBuffer data =
        ByteBuffer.allocateDirect(rows * width * elementBytes).order(ByteOrder.nativeOrder());
    for (int c = 0; c < width; c++) {
      ArrowBuf column = columns.get(c).getDataBuffer();
      if (width == 1) {
        column.getBytes(0, data.duplicate());
        break;
      }
      for (int r = 0; r < rows; r++) {
        int at = (r * width + c) * elementBytes;
        if (elementBytes == 4) {
          data.putInt(at, column.getInt((long) r * 4));
        } else {
          data.putLong(at, column.getLong((long) r * 8));
        }
      }
    }
    long[] shape = matrix ? new long[] {rows, width} : new long[] {rows};
    switch (type) {
      case FLOAT:
        return OnnxTensor.createTensor(env, data.asFloatBuffer(), shape);
      case DOUBLE:
        return OnnxTensor.createTensor(env, data.asDoubleBuffer(), shape);
      case INT32:
        return OnnxTensor.createTensor(env, data.asIntBuffer(), shape);
      default:
        return OnnxTensor.createTensor(env, data.asLongBuffer(), shape);
    }
  }

  /**
   * Adds this tensor's columns to {@code out}, allocated for its rows. The builder owns them; the
   * returned list is borrowed for {@link #copyInto}.
   */
  List<BaseFixedWidthVector> addColumns(OutputBuilder out) {
    List<BaseFixedWidthVector> vectors = new ArrayList<>(width());
    for (Field field : fields()) {
      vectors.add((BaseFixedWidthVector) out.column(field));
    }
    return vectors;
  }

  /**
   * Unpacks an output tensor into the columns from {@link #addColumns}, marking every row valid.
   * The tensor and the columns stay owned by their callers.
   */
  void copyInto(OnnxTensor tensor, List<BaseFixedWidthVector> vectors, int rows) {
    ByteBuffer data = tensor.getByteBuffer().order(ByteOrder.nativeOrder());
    int width = width();
    if (data.remaining() != rows * width * elementBytes) {
      throw new IllegalStateException(
          "ONNX output '" + name + "' has " + data.remaining() / elementBytes + " values for "
              + rows + " rows x " + width);
    }
    for (int c = 0; c < width; c++) {
      BaseFixedWidthVector vector = vectors.get(c);
      ArrowBuf target = vector.getDataBuffer();
      if (width == 1) {
        target.setBytes(0, data.duplicate());
      } else {
        for (int r = 0; r < rows; r++) {
          int at = (r * width + c) * elementBytes;
          if (elementBytes == 4) {
            target.setInt((long) r * 4, data.getInt(at));
          } else {
            target.setLong((long) r * 8, data.getLong(at));
          }
        }
      }
      vector.getValidityBuffer().setOne(0, BitVectorHelper.getValidityBufferSizeFromCount(rows));
    }
  }
}
