/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.common.PredictException;
import inference.OpenInferenceGrpc.InferTensorContents;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.jspecify.annotations.Nullable;

/**
 * Reads one Open Inference Protocol tensor (typed {@code contents} or raw little-endian row-major
 * bytes) into Arrow columns: column {@code c} of row {@code r} is element {@code r * K + c}.
 *
 * <p>{@link #check} compares the elements actually present with what the shape declares before
 * anything is allocated, so memory is only ever allocated for bytes that arrived. Stateless and
 * thread-safe.
 */
public final class TensorReader {
  /** What one tensor carries: a request's input or a response's output. */
  public record Data(
      String role,
      String name,
      String datatype,
      List<Long> shape,
      InferTensorContents contents,
      @Nullable ByteString raw) {
    /** E.g. {@code input 'features'}, for messages. */
    String label() {
      return role + " '" + ClientText.name(name) + "'";
    }
  }

  private TensorReader() {}

  /**
   * Checks that {@code data}'s contents hold exactly the elements its shape declares, {@code rows}
   * rows of {@code width} each, of {@code type}.
   *
   * @throws PredictException INVALID_ARGUMENT naming the tensor if they do not
   */
  public static void check(Data data, OipDatatype type, long rows, int width) {
    long elements;
    try {
      elements = Math.multiplyExact(rows, (long) width);
    } catch (ArithmeticException e) {
      throw invalid(data.label() + " has a shape too large: " + data.shape());
    }
    ByteString raw = data.raw();
    if (raw != null) {
      if (hasTypedContents(data.contents())) {
        throw invalid(
            data.label() + " has both typed contents and raw contents; send one or the other");
      }
      long present =
          type == OipDatatype.BYTES
              ? rawStrings(data, raw, null)
              : raw.size() / type.elementBytes();
      long expectedBytes = type == OipDatatype.BYTES ? -1 : elements * type.elementBytes();
      if (present != elements || (expectedBytes >= 0 && raw.size() != expectedBytes)) {
        throw invalid(
            data.label()
                + " has shape "
                + data.shape()
                + " ("
                + elements
                + " elements of "
                + type
                + (expectedBytes >= 0 ? ", " + expectedBytes + " bytes" : "")
                + ") but its raw contents hold "
                + (expectedBytes >= 0 ? raw.size() + " bytes" : present + " elements"));
      }
      return;
    }
    if (type == OipDatatype.FP16) {
      throw invalid(data.label() + " is FP16, which only raw contents can carry");
    }
    long present = typedCount(data.contents(), type);
    if (present != elements) {
      throw invalid(
          data.label()
              + " has shape "
              + data.shape()
              + " ("
              + elements
              + " elements) but its "
              + typedFieldName(type)
              + " hold "
              + present);
    }
  }

  /**
   * Reads a tensor that passed {@link #check} into new vectors for {@code fields} (one per column),
   * allocated from {@code allocator}. Ownership of the returned vectors passes to the caller; on
   * failure, everything allocated here is freed.
   *
   * @throws PredictException INVALID_ARGUMENT if a value does not fit its datatype (e.g. 300 as
   *     INT8) or a BYTES element is not UTF-8 for a string column
   */
  public static List<FieldVector> read(
      Data data, OipDatatype type, List<Field> fields, int rows, BufferAllocator allocator) {
    List<FieldVector> vectors = new ArrayList<>(fields.size());
    boolean ok = false;
    try {
      int width = fields.size();
      // Raw BYTES are parsed once for all the columns: once per column would cost K parses.
      List<ByteString> strings = type == OipDatatype.BYTES ? strings(data) : List.of();
      for (int c = 0; c < width; c++) {
        FieldVector vector = fields.get(c).createVector(allocator);
        vectors.add(vector);
        if (type == OipDatatype.BYTES) {
          readStrings(data, strings, (BaseVariableWidthVector) vector, rows, width, c);
        } else if (type == OipDatatype.BOOL) {
          readBools(data, (BitVector) vector, rows, width, c);
        } else {
          readFixed(data, type, (BaseFixedWidthVector) vector, rows, width, c);
        }
        vector.setValueCount(rows);
      }
      ok = true;
      return vectors;
    } finally {
      if (!ok) {
        vectors.forEach(FieldVector::close);
      }
    }
  }

  private static void readFixed(
      Data data, OipDatatype type, BaseFixedWidthVector vector, int rows, int width, int column) {
    vector.allocateNew(rows);
    ArrowBuf target = vector.getDataBuffer();
    int bytes = type.elementBytes();
    ByteString raw = data.raw();
    if (raw != null && width == 1) {
      // Arrow's buffers are little-endian, as raw contents are: one bulk copy.
      target.setBytes(0, raw.asReadOnlyByteBuffer());
    } else if (raw != null) {
      ByteBuffer source = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int r = 0; r < rows; r++) {
        int at = (r * width + column) * bytes;
        switch (bytes) {
          case 1 -> target.setByte(r, source.get(at));
          case 2 -> target.setShort((long) r * 2, source.getShort(at));
          case 4 -> target.setInt((long) r * 4, source.getInt(at));
          default -> target.setLong((long) r * 8, source.getLong(at));
        }
      }
    } else {
      InferTensorContents contents = data.contents();
      for (int r = 0; r < rows; r++) {
        int e = r * width + column;
        switch (type) {
          case INT8 ->
              target.setByte(r, (byte) intInRange(data, contents.getIntContents(e), -128, 127));
          case INT16 ->
              target.setShort(
                  (long) r * 2,
                  (short) intInRange(data, contents.getIntContents(e), -32768, 32767));
          case INT32 -> target.setInt((long) r * 4, contents.getIntContents(e));
          case INT64 -> target.setLong((long) r * 8, contents.getInt64Contents(e));
          case UINT8 ->
              target.setByte(r, (byte) uintInRange(data, contents.getUintContents(e), 0xFF));
          case UINT16 ->
              target.setShort(
                  (long) r * 2, (short) uintInRange(data, contents.getUintContents(e), 0xFFFF));
          case UINT32 -> target.setInt((long) r * 4, contents.getUintContents(e));
          case UINT64 -> target.setLong((long) r * 8, contents.getUint64Contents(e));
          case FP32 -> target.setFloat((long) r * 4, contents.getFp32Contents(e));
          case FP64 -> target.setDouble((long) r * 8, contents.getFp64Contents(e));
          default -> throw new IllegalStateException("not a fixed-width datatype: " + type);
        }
      }
    }
    setAllValid(vector, rows);
  }

  private static void readBools(Data data, BitVector vector, int rows, int width, int column) {
    vector.allocateNew(rows);
    ByteString raw = data.raw();
    for (int r = 0; r < rows; r++) {
      int e = r * width + column;
      boolean value = raw != null ? raw.byteAt(e) != 0 : data.contents().getBoolContents(e);
      vector.set(r, value ? 1 : 0);
    }
  }

  /** A BYTES tensor's elements in row-major order: views of raw contents, or the typed ones. */
  private static List<ByteString> strings(Data data) {
    ByteString raw = data.raw();
    if (raw == null) {
      return data.contents().getBytesContentsList();
    }
    List<ByteString> all = new ArrayList<>();
    rawStrings(data, raw, all);
    return all;
  }

  private static void readStrings(
      Data data,
      List<ByteString> all,
      BaseVariableWidthVector vector,
      int rows,
      int width,
      int column) {
    boolean utf8 = vector.getField().getType() instanceof ArrowType.Utf8;
    long total = 0;
    for (int r = 0; r < rows; r++) {
      total += all.get(r * width + column).size();
    }
    vector.allocateNew(total, rows);
    for (int r = 0; r < rows; r++) {
      ByteString element = all.get(r * width + column);
      if (utf8 && !isUtf8(element)) {
        throw invalid(data.label() + " element " + (r * width + column) + " is not valid UTF-8");
      }
      vector.setSafe(r, element.toByteArray());
    }
  }

  /**
   * Counts the elements of raw BYTES contents, checking every length against what is there, and
   * adds them to {@code out} if given (views, not copies).
   */
  private static long rawStrings(Data data, ByteString raw, @Nullable List<ByteString> out) {
    ByteBuffer buffer = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    long count = 0;
    while (buffer.remaining() > 0) {
      if (buffer.remaining() < 4) {
        throw invalid(data.label() + " has raw BYTES contents that end inside a length prefix");
      }
      long length = Integer.toUnsignedLong(buffer.getInt());
      if (length > buffer.remaining()) {
        throw invalid(
            data.label()
                + " has a raw BYTES element of "
                + length
                + " bytes where only "
                + buffer.remaining()
                + " remain");
      }
      if (out != null) {
        out.add(raw.substring(buffer.position(), buffer.position() + (int) length));
      }
      buffer.position(buffer.position() + (int) length);
      count++;
    }
    return count;
  }

  private static boolean isUtf8(ByteString bytes) {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes.asReadOnlyByteBuffer());
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  private static void setAllValid(BaseFixedWidthVector vector, int rows) {
    vector.getValidityBuffer().setOne(0, BitVectorHelper.getValidityBufferSizeFromCount(rows));
  }

  private static int intInRange(Data data, int value, int min, int max) {
    if (value < min || value > max) {
      throw invalid(data.label() + " holds " + value + ", outside " + data.datatype());
    }
    return value;
  }

  private static int uintInRange(Data data, int value, int max) {
    if (Integer.compareUnsigned(value, max) > 0) {
      throw invalid(
          data.label()
              + " holds "
              + Integer.toUnsignedString(value)
              + ", outside "
              + data.datatype());
    }
    return value;
  }

  private static boolean hasTypedContents(InferTensorContents c) {
    return c.getBoolContentsCount() > 0
        || c.getIntContentsCount() > 0
        || c.getInt64ContentsCount() > 0
        || c.getUintContentsCount() > 0
        || c.getUint64ContentsCount() > 0
        || c.getFp32ContentsCount() > 0
        || c.getFp64ContentsCount() > 0
        || c.getBytesContentsCount() > 0;
  }

  private static long typedCount(InferTensorContents c, OipDatatype type) {
    return switch (type) {
      case BOOL -> c.getBoolContentsCount();
      case INT8, INT16, INT32 -> c.getIntContentsCount();
      case INT64 -> c.getInt64ContentsCount();
      case UINT8, UINT16, UINT32 -> c.getUintContentsCount();
      case UINT64 -> c.getUint64ContentsCount();
      case FP32 -> c.getFp32ContentsCount();
      case FP64 -> c.getFp64ContentsCount();
      case BYTES -> c.getBytesContentsCount();
      case FP16 -> 0;
    };
  }

  /** The {@code InferTensorContents} field that carries {@code type}. */
  static String typedFieldName(OipDatatype type) {
    return switch (type) {
      case BOOL -> "bool_contents";
      case INT8, INT16, INT32 -> "int_contents";
      case INT64 -> "int64_contents";
      case UINT8, UINT16, UINT32 -> "uint_contents";
      case UINT64 -> "uint64_contents";
      case FP32 -> "fp32_contents";
      case FP64 -> "fp64_contents";
      case BYTES -> "bytes_contents";
      case FP16 -> "raw contents";
    };
  }

  static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
