/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * How the columns of an Arrow schema form Open Inference Protocol tensors. A column is a tensor of
 * shape {@code [N]}; K adjacent columns of one type form one tensor of shape {@code [N, K]} when
 * they carry the field metadata {@value #TENSOR_KEY} with the tensor's name, or, without it, when
 * they are named {@code <name>_0 .. <name>_K-1} (as the ONNX adapter names an {@code [N, K]}
 * tensor's columns) and no column is named {@code <name>} itself. Immutable and thread-safe.
 */
public final class TensorLayout {
  /** Field metadata naming the {@code [N, K]} tensor a column belongs to. */
  public static final String TENSOR_KEY = "predictgrpc.tensor";

  /**
   * One tensor: its name, its datatype (null if the columns' Arrow type has none), its columns in
   * order, and whether it has a second dimension (K columns, even K = 1).
   */
  public record Tensor(
      String name, @Nullable OipDatatype datatype, List<Field> columns, boolean matrix) {
    /** K: the number of columns. */
    public int width() {
      return columns.size();
    }

    /** The shape of {@code rows} rows: {@code [rows]} or {@code [rows, K]}. */
    public List<Long> shape(long rows) {
      return matrix ? List.of(rows, (long) width()) : List.of(rows);
    }

    /** The datatype's wire name, or the Arrow type of a column no datatype carries. */
    public String datatypeName() {
      return datatype != null ? datatype.name() : columns.get(0).getType().toString();
    }
  }

  private final List<Tensor> tensors;
  private final Map<String, Tensor> byName;
  private final @Nullable String duplicate;

  private TensorLayout(List<Tensor> tensors) {
    this.tensors = List.copyOf(tensors);
    Map<String, Tensor> map = new LinkedHashMap<>();
    String first = null;
    for (Tensor tensor : tensors) {
      if (map.putIfAbsent(tensor.name(), tensor) != null && first == null) {
        first = tensor.name();
      }
    }
    this.byName = map;
    this.duplicate = first;
  }

  /** Groups {@code schema}'s columns into tensors, in column order. */
  public static TensorLayout of(Schema schema) {
    List<Field> fields = schema.getFields();
    Set<String> columnNames = new HashSet<>();
    fields.forEach(f -> columnNames.add(f.getName()));
    List<Tensor> tensors = new ArrayList<>();
    int i = 0;
    while (i < fields.size()) {
      Field first = fields.get(i);
      String tagged = first.getMetadata().get(TENSOR_KEY);
      int end = i + 1;
      String name = first.getName();
      boolean matrix = false;
      if (tagged != null) {
        while (end < fields.size()
            && tagged.equals(fields.get(end).getMetadata().get(TENSOR_KEY))
            && sameType(first, fields.get(end))) {
          end++;
        }
        name = tagged;
        matrix = true;
      } else if (name.length() > 2 && name.endsWith("_0")) {
        String base = name.substring(0, name.length() - 2);
        if (!columnNames.contains(base)) {
          while (end < fields.size()
              && fields.get(end).getName().equals(base + "_" + (end - i))
              && fields.get(end).getMetadata().get(TENSOR_KEY) == null
              && sameType(first, fields.get(end))) {
            end++;
          }
          name = base;
          matrix = true;
        }
      }
      List<Field> columns = List.copyOf(fields.subList(i, end));
      tensors.add(new Tensor(name, datatypeOf(first), columns, matrix));
      i = end;
    }
    return new TensorLayout(tensors);
  }

  /**
   * The columns a tensor of {@code type} becomes when no schema names them: {@code name} for shape
   * {@code [N]}; {@code <name>_0 .. <name>_K-1}, tagged with {@link #TENSOR_KEY}, for {@code [N,
   * K]}. Not nullable.
   */
  public static Tensor columnsFor(String name, OipDatatype type, int width, boolean matrix) {
    if (!matrix) {
      return new Tensor(
          name,
          type,
          List.of(new Field(name, FieldType.notNullable(type.arrowType()), null)),
          false);
    }
    Map<String, String> metadata = Map.of(TENSOR_KEY, name);
    List<Field> columns = new ArrayList<>(width);
    for (int c = 0; c < width; c++) {
      columns.add(
          new Field(name + "_" + c, new FieldType(false, type.arrowType(), null, metadata), null));
    }
    return new Tensor(name, type, columns, true);
  }

  public List<Tensor> tensors() {
    return tensors;
  }

  /**
   * The first name two tensors share (a tagged group split by a change of type, or a column named
   * like a group), or null. Such a layout cannot be sent or read: refuse it.
   */
  public @Nullable String duplicate() {
    return duplicate;
  }

  /** The tensor named {@code name}, or null. */
  public @Nullable Tensor tensor(String name) {
    return byName.get(name);
  }

  /** The tensors' names, in order. */
  public List<String> names() {
    List<String> names = new ArrayList<>(tensors.size());
    tensors.forEach(t -> names.add(t.name()));
    return names;
  }

  private static @Nullable OipDatatype datatypeOf(Field field) {
    if (field.getDictionary() != null || !field.getChildren().isEmpty()) {
      return null;
    }
    return OipDatatype.of(field.getType());
  }

  private static boolean sameType(Field a, Field b) {
    return a.getType().equals(b.getType())
        && b.getDictionary() == null
        && a.getDictionary() == null
        && b.getChildren().isEmpty();
  }
}
