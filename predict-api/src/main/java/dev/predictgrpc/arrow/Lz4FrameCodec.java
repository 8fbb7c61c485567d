/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import net.jpountz.lz4.LZ4FrameInputStream;
import net.jpountz.lz4.LZ4FrameOutputStream;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.compression.AbstractCompressionCodec;
import org.apache.arrow.vector.compression.CompressionUtil;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorInputStream;

/**
 * Arrow's LZ4_FRAME body codec on lz4-java (JNI) rather than commons-compress.
 *
 * <p>Why: arrow-compression's {@code Lz4CompressionCodec} streams through commons-compress's
 * pure-Java framed LZ4, which took seconds to write a 20,000-row batch; lz4-java writes the same
 * frames at hundreds of MB/s. The frames (64 KiB independent blocks, no checksums) are standard LZ4
 * frames: pyarrow, Arrow C++ and apache-arrow JS (with an LZ4 codec registered) read them, as does
 * arrow-compression. Reading, it also takes the frames with linked blocks that Arrow C++ writes.
 *
 * <p>Stateless and thread-safe. Buffers come from the allocator passed in and pass to the caller;
 * the buffer given to {@code compress}/{@code decompress} is closed, as {@link
 * AbstractCompressionCodec} specifies.
 */
final class Lz4FrameCodec extends AbstractCompressionCodec {
  static final Lz4FrameCodec INSTANCE = new Lz4FrameCodec();

  private static final int BLOCK_BYTES = 64 << 10;

  /** The LZ4 frame magic number that precedes the FLG byte. */
  private static final int FRAME_MAGIC_BYTES = 4;

  /** The FLG bit saying each block decodes alone. */
  private static final int BLOCK_INDEPENDENCE = 0x20;

  /** Frame header (at most 15 bytes), end mark and content checksum, rounded up. */
  private static final int FRAME_OVERHEAD_BYTES = 32;

  /** Each block carries a 4-byte size, and a block that does not shrink is stored as it is. */
  private static final int BLOCK_HEADER_BYTES = 4;

  private Lz4FrameCodec() {}

  @Override
  protected ArrowBuf doCompress(BufferAllocator allocator, ArrowBuf uncompressed) {
    long length = uncompressed.writerIndex();
    long blocks = (length + BLOCK_BYTES - 1) / BLOCK_BYTES;
    long bound =
        CompressionUtil.SIZE_OF_UNCOMPRESSED_LENGTH
            + FRAME_OVERHEAD_BYTES
            + blocks * BLOCK_HEADER_BYTES
            + length;
    ArrowBuf out = allocator.buffer(bound);
    try {
      BufOutputStream sink = new BufOutputStream(out, CompressionUtil.SIZE_OF_UNCOMPRESSED_LENGTH);
      try (LZ4FrameOutputStream frame =
          new LZ4FrameOutputStream(
              sink,
              LZ4FrameOutputStream.BLOCKSIZE.SIZE_64KB,
              LZ4FrameOutputStream.FLG.Bits.BLOCK_INDEPENDENCE)) {
        byte[] copy = new byte[(int) Math.min(length, BLOCK_BYTES)];
        for (long at = 0; at < length; at += copy.length) {
          int n = (int) Math.min(copy.length, length - at);
          uncompressed.getBytes(at, copy, 0, n);
          frame.write(copy, 0, n);
        }
      }
      out.writerIndex(sink.position);
      return out;
    } catch (IOException | RuntimeException e) {
      throw failed(out, e);
    }
  }

  @Override
  protected ArrowBuf doDecompress(BufferAllocator allocator, ArrowBuf compressed) {
    // The declared length was checked against the caller's limits before we were called.
    long length = readUncompressedLength(compressed);
    ArrowBuf out = allocator.buffer(length);
    try (InputStream frame =
        openFrame(
            new BufInputStream(
                compressed,
                CompressionUtil.SIZE_OF_UNCOMPRESSED_LENGTH,
                compressed.writerIndex()),
            hasLinkedBlocks(compressed))) {
      byte[] copy = new byte[(int) Math.min(Math.max(length, 1), BLOCK_BYTES)];
      long filled = 0;
      while (true) {
        int n = frame.read(copy, 0, copy.length);
        if (n < 0) {
          break;
        }
        if (n > length - filled) {
          throw new IllegalArgumentException(
              "an LZ4 frame holds more than its declared " + length + " bytes");
        }
        out.setBytes(filled, copy, 0, n);
        filled += n;
      }
      if (filled != length) {
        throw new IllegalArgumentException(
            "an LZ4 frame holds " + filled + " bytes, not its declared " + length);
      }
      out.writerIndex(length);
      return out;
    } catch (IOException | RuntimeException e) {
      throw failed(out, e);
    }
  }

  /**
   * Whether the frame in {@code compressed} (after the uncompressed length) declares linked
   * blocks: its FLG byte, after the 4-byte magic, lacks the block-independence bit. Arrow C++ and
   * so pyarrow write such frames for any buffer over one 64 KiB block (LZ4F's default preferences).
   */
  private static boolean hasLinkedBlocks(ArrowBuf compressed) {
    long flg = CompressionUtil.SIZE_OF_UNCOMPRESSED_LENGTH + FRAME_MAGIC_BYTES;
    return compressed.writerIndex() > flg && (compressed.getByte(flg) & BLOCK_INDEPENDENCE) == 0;
  }

  /**
   * A reader of one frame. lz4-java reads independent blocks only, so frames with linked blocks
   * (each block may refer to the 64 KiB before it) go to commons-compress, slower but complete.
   */
  private static InputStream openFrame(InputStream in, boolean linkedBlocks) throws IOException {
    return linkedBlocks ? new FramedLZ4CompressorInputStream(in) : new LZ4FrameInputStream(in);
  }

  /** Frees the output buffer of a failed call and returns what to throw. */
  private static RuntimeException failed(ArrowBuf out, Exception e) {
    out.close();
    return e instanceof IOException
        ? new UncheckedIOException((IOException) e)
        : (RuntimeException) e;
  }

  @Override
  public CompressionUtil.CodecType getCodecType() {
    return CompressionUtil.CodecType.LZ4_FRAME;
  }

  /** Writes into an ArrowBuf from a position on; the buffer was sized to the frame's bound. */
  private static final class BufOutputStream extends OutputStream {
    private final ArrowBuf buf;
    long position;

    BufOutputStream(ArrowBuf buf, long position) {
      this.buf = buf;
      this.position = position;
    }

    @Override
    public void write(int b) {
      buf.setByte(position++, b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      buf.setBytes(position, b, off, len);
      position += len;
    }
  }

  /** Reads an ArrowBuf's bytes between two indexes. */
  private static final class BufInputStream extends InputStream {
    private final ArrowBuf buf;
    private final long end;
    private long position;

    BufInputStream(ArrowBuf buf, long start, long end) {
      this.buf = buf;
      this.position = start;
      this.end = end;
    }

    @Override
    public int read() {
      return position < end ? buf.getByte(position++) & 0xFF : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (len == 0) {
        return 0;
      }
      if (position >= end) {
        return -1;
      }
      int n = (int) Math.min(len, end - position);
      buf.getBytes(position, b, off, n);
      position += n;
      return n;
    }
  }
}
