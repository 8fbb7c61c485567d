/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import org.apache.arrow.flatbuf.Field;
import org.apache.arrow.flatbuf.Schema;

/**
 * Checks a schema's field tree, as the flatbuffer metadata has it, before Arrow converts it.
 *
 * <p>Arrow's conversion recurses once per field and follows the flatbuffer's offsets as given, so
 * crafted offsets can form a cycle (a stack overflow) or make fields share children (a walk
 * exponential in the depth). A genuine schema holds each field once, in at least 8 bytes of
 * metadata (its table and the offset that points to it), which bounds the walk.
 *
 * <p>Holds no state; safe from any thread.
 */
final class FieldTreeCheck {
  /** Schemas nested deeper are refused, as Arrow C++ refuses them by default. */
  private static final int MAX_FIELD_DEPTH = 64;

  private FieldTreeCheck() {}

  /**
   * Checks the fields of {@code schema}, read from {@code metadataBytes} bytes of metadata.
   *
   * @throws ArrowChunkException if the tree is nested too deep, has more fields than the metadata
   *     can hold, or more than {@code maxFields}
   */
  static void check(Schema schema, int metadataBytes, int maxFields) {
    int budget = metadataBytes / 8;
    int fields = 0;
    for (int i = 0; i < schema.fieldsLength(); i++) {
      int before = budget;
      budget = checkField(schema.fields(i), 1, budget);
      fields += before - budget;
      if (fields > maxFields) {
        throw ArrowChunkException.limit(
            "the Arrow IPC schema has more than "
                + maxFields
                + " fields, nested ones included (limit maxSchemaFields="
                + maxFields
                + ")");
      }
    }
  }

  /** Checks one field and its children; returns how many more fields the budget allows. */
  private static int checkField(Field field, int depth, int budget) {
    if (depth > MAX_FIELD_DEPTH) {
      throw ArrowChunkException.malformed(
          "the Arrow IPC schema is nested more than " + MAX_FIELD_DEPTH + " levels deep");
    }
    if (--budget < 0) {
      throw ArrowChunkException.malformed(
          "the Arrow IPC schema has more fields than its metadata can hold");
    }
    for (int i = 0; i < field.childrenLength(); i++) {
      budget = checkField(field.children(i), depth + 1, budget);
    }
    return budget;
  }
}
