/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Schema messages already built or parsed, in both directions.
 *
 * <p>Every unary call carries its schema, and a client sends the same few schemas over and over.
 * For a 16-column schema, building the flatbuffer cost 2.3 us and parsing it back 1.5 us plus the
 * field-tree check, a sixth of a one-row call's Arrow work (measured with a loop over {@link
 * ArrowChunkEncoder#encodeStream} and {@link ArrowChunkDecoder}). A hit costs a hash of the schema
 * or of its metadata bytes; encoding the very schema object encoded last costs nothing.
 *
 * <p>Both maps are bounded: a peer that sends many distinct schemas only empties them now and then,
 * and schemas with more than {@link #MAX_CACHED_BYTES} of metadata (thousands of columns, where
 * the cost per call matters less) are never kept. Keys and values are immutable, so one entry may
 * serve any number of threads. Thread-safe.
 */
final class SchemaMessages {
  /** Distinct schemas kept per direction; a server hosts few models, a client calls few. */
  static final int MAX_ENTRIES = 256;

  /** Metadata larger than this is rebuilt or reparsed every time. */
  static final int MAX_CACHED_BYTES = 64 << 10;

  private static final Map<Schema, byte[]> encoded = new ConcurrentHashMap<>();
  private static final Map<MetadataKey, Decoded> decoded = new ConcurrentHashMap<>();

  /**
   * The schema encoded last, checked by identity before the map: a map lookup hashes every field
   * of the schema (2% of a one-row call's client CPU in the benchmark), while a client that reuses
   * its input root passes the very same schema object each call.
   */
  private static volatile @Nullable EncodedSchema lastEncoded;

  private record EncodedSchema(Schema schema, byte[] message) {}

  /**
   * A schema parsed from a message, with what decoding its batches needs, worked out once: whether
   * any field is dictionary-encoded and, if none is, the shape its batches must have. A server that
   * alternates between models, or a JVM that is client and server at once, otherwise recomputed the
   * shape on every call (a fifth of the garbage of decoding a one-row request).
   *
   * @param shape the batches' shape; null for dictionary-encoded schemas, whose in-memory fields
   *     depend on each stream's dictionaries
   */
  record Decoded(Schema schema, boolean dictionaryEncoded, @Nullable BatchShape shape) {
    static Decoded of(Schema schema) {
      boolean encoded = ArrowChunkEncoder.isDictionaryEncoded(schema.getFields());
      return new Decoded(schema, encoded, encoded ? null : BatchShape.of(schema.getFields()));
    }
  }

  private SchemaMessages() {}

  /**
   * The encapsulated IPC message of {@code messageSchema} (continuation marker, length, flatbuffer,
   * padding), exactly as {@link MessageSerializer#serialize(WriteChannel, Schema, IpcOption)}
   * writes it with the default options. Shared: callers must not modify the array.
   */
  static byte[] encode(Schema messageSchema) {
    EncodedSchema last = lastEncoded;
    if (last != null && last.schema == messageSchema) {
      return last.message;
    }
    byte[] message = encoded.get(messageSchema);
    if (message == null) {
      message = serialize(messageSchema);
      if (message.length <= MAX_CACHED_BYTES) {
        put(encoded, messageSchema, message);
      }
    }
    if (message.length <= MAX_CACHED_BYTES) {
      lastEncoded = new EncodedSchema(messageSchema, message);
    }
    return message;
  }

  /**
   * The schema held by {@code message}, whose flatbuffer is {@code metadata}; {@code parse} runs
   * only for metadata not seen before (it must check and convert it). {@code metadata} becomes a
   * key: the caller must not modify it afterwards.
   */
  static Decoded decode(byte[] metadata, Message message, Function<Message, Schema> parse) {
    if (metadata.length > MAX_CACHED_BYTES) {
      return Decoded.of(parse.apply(message));
    }
    MetadataKey key = new MetadataKey(metadata);
    Decoded schema = decoded.get(key);
    if (schema == null) {
      schema = Decoded.of(parse.apply(message));
      put(decoded, key, schema);
    }
    return schema;
  }

  /** Empties both maps; for tests. */
  static void clear() {
    lastEncoded = null;
    encoded.clear();
    decoded.clear();
  }

  /** Entries held per direction; for tests. */
  static int[] sizes() {
    return new int[] {encoded.size(), decoded.size()};
  }

  private static <K, V> void put(Map<K, V> map, K key, V value) {
    // Clearing rather than evicting one by one: hits on a working set of a few schemas matter,
    // and a peer cycling through hundreds of schemas gets no benefit from any eviction order.
    if (map.size() >= MAX_ENTRIES) {
      map.clear();
    }
    map.put(key, value);
  }

  private static byte[] serialize(Schema schema) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
    try {
      MessageSerializer.serialize(
          new WriteChannel(Channels.newChannel(bytes)), schema, IpcOption.DEFAULT);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // A ByteArrayOutputStream does no I/O.
    }
    return bytes.toByteArray();
  }

  /** Metadata bytes compared by content, with the hash computed once. */
  private static final class MetadataKey {
    private static final VarHandle LONGS =
        MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[] bytes;
    private final int hash;

    MetadataKey(byte[] bytes) {
      this.bytes = bytes;
      this.hash = hash(bytes);
    }

    /**
     * Every byte, eight at a time: {@link Arrays#hashCode(byte[])} goes byte by byte, which was a
     * fifth of the cost of decoding a small call's schema on JDK 17.
     */
    private static int hash(byte[] bytes) {
      long h = bytes.length;
      int i = 0;
      for (; i + Long.BYTES <= bytes.length; i += Long.BYTES) {
        h = 31 * h + (long) LONGS.get(bytes, i);
      }
      for (; i < bytes.length; i++) {
        h = 31 * h + bytes[i];
      }
      return Long.hashCode(h * 0x9E3779B97F4A7C15L);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof MetadataKey
          && hash == ((MetadataKey) other).hash
          && Arrays.equals(bytes, ((MetadataKey) other).bytes);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
}
