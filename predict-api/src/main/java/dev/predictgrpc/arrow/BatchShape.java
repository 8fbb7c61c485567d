/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.BufferLayout;
import org.apache.arrow.vector.TypeLayout;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * What a record batch of one schema must look like in its flatbuffer header: one field node per
 * field, nested ones included (depth first), and for each node how many buffers it owns and
 * whether the first is a validity bitmap. Computed once per schema, so every batch's declared
 * counts and sizes can be checked before anything is sliced or allocated for them.
 *
 * <p>Immutable; safe from any thread.
 */
final class BatchShape {
  private final int[] fixedBuffers;
  private final boolean[] hasValidity;
  private final boolean[] isView;
  private final boolean[] isTopLevel;
  private final long totalFixedBuffers;
  private final int viewNodes;

  private BatchShape(List<Field> fields) {
    List<Field> flat = new ArrayList<>();
    List<Boolean> top = new ArrayList<>();
    for (Field field : fields) {
      flatten(field, true, flat, top);
    }
    int n = flat.size();
    fixedBuffers = new int[n];
    hasValidity = new boolean[n];
    isView = new boolean[n];
    isTopLevel = new boolean[n];
    long total = 0;
    int views = 0;
    for (int i = 0; i < n; i++) {
      ArrowType type = flat.get(i).getType();
      List<BufferLayout.BufferType> layout = TypeLayout.getTypeLayout(type).getBufferTypes();
      fixedBuffers[i] = TypeLayout.getTypeBufferCount(type);
      hasValidity[i] = !layout.isEmpty() && layout.get(0) == BufferLayout.BufferType.VALIDITY;
      isView[i] = type instanceof ArrowType.Utf8View || type instanceof ArrowType.BinaryView;
      isTopLevel[i] = top.get(i);
      total += fixedBuffers[i];
      views += isView[i] ? 1 : 0;
    }
    totalFixedBuffers = total;
    viewNodes = views;
  }

  /** The shape of batches of {@code fields}, in the form their vectors have in memory. */
  static BatchShape of(List<Field> fields) {
    return new BatchShape(fields);
  }

  private static void flatten(Field field, boolean topLevel, List<Field> flat, List<Boolean> top) {
    flat.add(field);
    top.add(topLevel);
    for (Field child : field.getChildren()) {
      flatten(child, false, flat, top);
    }
  }

  /** Field nodes per batch: one per field, nested ones included. */
  int nodes() {
    return fixedBuffers.length;
  }

  /** Buffers per batch, not counting the variadic data buffers of view columns. */
  long fixedBuffers() {
    return totalFixedBuffers;
  }

  /** Columns of a view type (Utf8View, BinaryView), each with a variadic buffer count. */
  int viewNodes() {
    return viewNodes;
  }

  /** The buffers node {@code i} owns before any variadic ones. */
  int fixedBuffers(int i) {
    return fixedBuffers[i];
  }

  /** True if node {@code i}'s first buffer is a validity bitmap. */
  boolean hasValidity(int i) {
    return hasValidity[i];
  }

  /** True if node {@code i} is of a view type, and so owns variadic data buffers too. */
  boolean isView(int i) {
    return isView[i];
  }

  /** True if node {@code i} is a column of the batch rather than a nested field. */
  boolean isTopLevel(int i) {
    return isTopLevel[i];
  }
}
