/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import org.apache.arrow.compression.ZstdCompressionCodec;
import org.apache.arrow.vector.compression.CompressionCodec;
import org.jspecify.annotations.Nullable;

/**
 * How the bodies of Arrow IPC record batch and dictionary messages are compressed: Arrow's
 * per-buffer body compression, which every Arrow library reads (pyarrow, Arrow C++, Java with
 * arrow-compression, apache-arrow JS with a codec registered). Only bodies are compressed; the
 * schema and every message's metadata stay readable.
 *
 * <p>Each buffer is compressed on its own and sent uncompressed (length prefix -1) when that is not
 * smaller, so incompressible columns cost a copy and 8 bytes, not more bytes on the wire.
 *
 * <p>Immutable and thread-safe.
 *
 * @since 0.2
 */
public enum IpcCompression {
  /** Bodies are sent as they are in memory: no compression work at all. The default. */
  NONE,
  /**
   * LZ4 frames: fast on both sides (hundreds of MB/s per core), a modest ratio. Worth it where the
   * link, not the CPU, is the limit and CPU is scarce.
   */
  LZ4_FRAME,
  /**
   * Zstandard at level {@value #ZSTD_LEVEL}: a better ratio than LZ4 for a few times its CPU. Worth
   * it on slow links (100 Mbit/s, a WAN), where it moves tables several times faster.
   */
  ZSTD;

  /**
   * The Zstandard level written. Level 1 against 3 on the benchmark's realistic table: see the
   * README's "Compressed bodies" section for the figures that chose it.
   */
  public static final int ZSTD_LEVEL = 1;

  /** The codec that writes this compression, or null for {@link #NONE}. Stateless, shareable. */
  @Nullable CompressionCodec codec() {
    switch (this) {
      case LZ4_FRAME:
        return Lz4FrameCodec.INSTANCE;
      case ZSTD:
        return ZstdHolder.CODEC;
      default:
        return null;
    }
  }

  /** Loads zstd-jni's native library only when ZSTD is first used. */
  private static final class ZstdHolder {
    static final CompressionCodec CODEC = new ZstdCompressionCodec(ZSTD_LEVEL);
  }
}
