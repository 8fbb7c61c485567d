/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.FieldInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/** Describes schemas for {@code GetModelMetadata}: as IPC bytes and as readable fields. */
final class SchemaDescriptions {
  private SchemaDescriptions() {}

  /** The schema as an encapsulated Arrow IPC Schema message; empty for a null schema. */
  static ByteString ipcBytes(@Nullable Schema schema) {
    if (schema == null) {
      return ByteString.EMPTY;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      MessageSerializer.serialize(new WriteChannel(Channels.newChannel(out)), schema, IpcOption.DEFAULT);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // A ByteArrayOutputStream does not fail.
    }
    return ByteString.copyFrom(out.toByteArray());
  }

  /** The schema's fields, readable; empty for a null schema. */
  static List<FieldInfo> fields(@Nullable Schema schema) {
    return schema == null ? List.of() : describe(schema.getFields());
  }

  private static List<FieldInfo> describe(List<Field> fields) {
    List<FieldInfo> result = new ArrayList<>(fields.size());
    for (Field field : fields) {
      result.add(
          FieldInfo.newBuilder()
              .setName(field.getName())
              .setType(InputSchemaCheck.describe(field))
              .setNullable(field.isNullable())
              .addAllChildren(describe(field.getChildren()))
              .build());
    }
    return result;
  }
}
