/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Turns a Parquet file into one with the same schema and no rows, by rewriting its footer without
 * row groups. Arrow Dataset writes no file at all for a stream without rows (apache/arrow#37583),
 * so the writer writes one row and this drops it. The footer is Thrift's compact protocol; only
 * its top-level fields are rewritten, the rest is copied byte for byte.
 */
final class EmptyParquetFile {
  private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);
  private static final int NUM_ROWS = 3;
  private static final int ROW_GROUPS = 4;

  private final byte[] bytes;
  private int pos;

  private EmptyParquetFile(byte[] bytes, int pos) {
    this.bytes = bytes;
    this.pos = pos;
  }

  /** Rewrites {@code file} (small: it holds one row) without its rows. */
  static void dropRows(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    int end = bytes.length - 8;
    int length = ByteBuffer.wrap(bytes, end, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    if (end < 4 || length <= 0 || length > end - 4
        || !Arrays.equals(Arrays.copyOfRange(bytes, end + 4, end + 8), MAGIC)) {
      throw new IOException("not a Parquet file: " + file);
    }
    EmptyParquetFile footer = new EmptyParquetFile(bytes, end - length);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(MAGIC);
    int id = 0;
    while (true) {
      int start = footer.pos;
      int header = bytes[footer.pos++] & 0xff;
      if (header == 0) {
        out.write(0);
        break;
      }
      int type = header & 0x0f;
      id = (header >>> 4) == 0 ? footer.zigzag() : id + (header >>> 4);
      out.write(bytes, start, footer.pos - start);
      int value = footer.pos;
      footer.skip(type);
      if (id == NUM_ROWS) {
        out.write(0); // i64 0
      } else if (id == ROW_GROUPS) {
        out.write(0x0c); // An empty list of structs.
      } else {
        out.write(bytes, value, footer.pos - value);
      }
    }
    int footerLength = out.size() - MAGIC.length;
    out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(footerLength).array());
    out.write(MAGIC);
    Files.write(file, out.toByteArray());
  }

  private long varint() {
    long value = 0;
    for (int shift = 0; ; shift += 7) {
      int b = bytes[pos++] & 0xff;
      value |= (long) (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return value;
      }
    }
  }

  private int zigzag() {
    long n = varint();
    return (int) ((n >>> 1) ^ -(n & 1));
  }

  /** Skips a value of compact-protocol type {@code type} as it appears in a struct field. */
  private void skip(int type) {
    switch (type) {
      case 1: // true
      case 2: // false: the value is in the field header
        return;
      case 3:
        pos++;
        return;
      case 4:
      case 5:
      case 6:
        varint();
        return;
      case 7:
        pos += 8;
        return;
      case 8:
        int length = (int) varint(); // Not "pos += varint()": that adds to pos as it was before.
        pos += length;
        return;
      case 9:
      case 10:
        {
          int header = bytes[pos++] & 0xff;
          long size = (header >>> 4) == 15 ? varint() : header >>> 4;
          for (long i = 0; i < size; i++) {
            skipElement(header & 0x0f);
          }
          return;
        }
      case 11:
        {
          long size = varint();
          if (size > 0) {
            int types = bytes[pos++] & 0xff;
            for (long i = 0; i < size; i++) {
              skipElement(types >>> 4);
              skipElement(types & 0x0f);
            }
          }
          return;
        }
      case 12:
        while (true) {
          int header = bytes[pos++] & 0xff;
          if (header == 0) {
            return;
          }
          if ((header >>> 4) == 0) {
            zigzag();
          }
          skip(header & 0x0f);
        }
      default:
        throw new IllegalStateException("unknown Thrift compact type " + type + " in a Parquet footer");
    }
  }

  /** Skips a list, set or map element: booleans there take a byte of their own. */
  private void skipElement(int type) {
    if (type == 1 || type == 2) {
      pos++;
    } else {
      skip(type);
    }
  }
}
