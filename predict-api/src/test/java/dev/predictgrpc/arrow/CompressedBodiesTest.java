/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static dev.predictgrpc.arrow.TestData.assertSameBatch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.List;
import org.apache.arrow.compression.CommonsCompressionFactory;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.compression.CompressionUtil;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Compressed Arrow IPC bodies (per-buffer LZ4_FRAME and ZSTD, as pyarrow and Arrow Java write
 * them) decode to the same batches, within the same limits, and leak nothing when they are bad.
 */
class CompressedBodiesTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** An all-types stream of batches of {@code rows}, compressed with {@code codec}. */
  private ByteString compressedStream(CompressionUtil.CodecType codec, int... rows) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (VectorSchemaRoot root =
            VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator());
        ArrowStreamWriter writer =
            new ArrowStreamWriter(
                root,
                null,
                Channels.newChannel(out),
                IpcOption.DEFAULT,
                CommonsCompressionFactory.INSTANCE,
                codec)) {
      writer.start();
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        writer.writeBatch();
      }
      writer.end();
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
    return ByteString.copyFrom(out.toByteArray());
  }

  @ParameterizedTest
  @EnumSource(
      value = CompressionUtil.CodecType.class,
      names = {"LZ4_FRAME", "ZSTD"})
  void compressedStream_decodesToTheSameBatches(CompressionUtil.CodecType codec) {
    // Small batches: commons-compress, which writes these LZ4 frames, takes seconds for 1000 rows.
    int[] rows = {5, 0, 150};
    ByteString stream = compressedStream(codec, rows);
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      int batch = 0;
      for (ByteString chunk : IpcBytes.cut(stream, 997)) {
        decoder.append(chunk);
        while (decoder.nextBatch()) {
          try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), batch, rows[batch])) {
            assertSameBatch(decoder.root(), expected);
          }
          batch++;
        }
      }
      decoder.finish();
      assertThat(batch).isEqualTo(rows.length);
    }
  }

  /** The same batches as {@link #compressedStream}, written by our encoder. */
  private ByteString encodedStream(
      IpcCompression compression, BufferAllocator scratch, int... rows) {
    List<ByteString> chunks = new java.util.ArrayList<>();
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator())) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(root.getSchema(), null, 4096, chunks::add)
              .compression(compression, scratch);
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        encoder.writeBatch(root);
      }
      encoder.end();
    }
    return ByteString.copyFrom(chunks);
  }

  @ParameterizedTest
  @EnumSource(
      value = IpcCompression.class,
      names = {"LZ4_FRAME", "ZSTD"})
  void encoderCompression_isReadByArrowsOwnReader_andIsSmaller(IpcCompression compression)
      throws Exception {
    int[] rows = {5, 0, 150};
    ByteString compressed = encodedStream(compression, arrow.allocator(), rows);
    ByteString plain = encodedStream(IpcCompression.NONE, arrow.allocator(), rows);
    assertThat(compressed.size()).isLessThan(plain.size());
    // Arrow's reader with arrow-compression's codecs: our frames are the standard ones.
    try (org.apache.arrow.vector.ipc.ArrowStreamReader reader =
        new org.apache.arrow.vector.ipc.ArrowStreamReader(
            compressed.newInput(), arrow.allocator(), CommonsCompressionFactory.INSTANCE)) {
      int batch = 0;
      while (reader.loadNextBatch()) {
        try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), batch, rows[batch])) {
          assertSameBatch(reader.getVectorSchemaRoot(), expected);
        }
        batch++;
      }
      assertThat(batch).isEqualTo(rows.length);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = IpcCompression.class,
      names = {"LZ4_FRAME", "ZSTD"})
  void compressionAllocatorAtItsLimit_failsTheBatch_andLeaksNothing(IpcCompression compression) {
    try (BufferAllocator scratch = arrow.allocator().newChildAllocator("scratch", 0, 20_000)) {
      assertThatThrownBy(() -> encodedStream(compression, scratch, 5, 5000))
          .isInstanceOf(org.apache.arrow.memory.OutOfMemoryException.class);
      assertThat(scratch.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void compressedBatchExpandingPastMaxMessageBytes_isRefusedBeforeDecompressing() {
    // The check reads only the declared lengths, whatever the codec; ZSTD because commons-compress
    // writes LZ4 frames slowly (seconds for this batch).
    ByteString stream = compressedStream(CompressionUtil.CodecType.ZSTD, 20_000);
    try (BufferAllocator tracked = arrow.allocator().newChildAllocator("tracked", 0, 1L << 30);
        ArrowChunkDecoder decoder =
            ArrowChunkDecoder.builder(tracked).maxMessageBytes(stream.size() + 1000).build()) {
      decoder.append(stream);

      assertThatThrownBy(decoder::nextBatch)
          .isInstanceOf(ArrowChunkException.class)
          .hasMessageContaining("once decompressed")
          .hasMessageContaining("maxMessageBytes");
      assertThat(tracked.getPeakMemoryAllocation()).isLessThan(2L * stream.size() + 65536);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = CompressionUtil.CodecType.class,
      names = {"LZ4_FRAME", "ZSTD"})
  void corruptCompressedBuffer_isMalformed_andLeaksNothing(CompressionUtil.CodecType codec) {
    ByteString stream = compressedStream(codec, 150);
    List<ByteString> messages = IpcBytes.messages(stream);
    ByteString batch = messages.get(1);
    byte[] bytes = batch.toByteArray();
    // Scramble the compressed bytes after the first buffer's length prefix.
    int bodyStart = bytes.length - IpcBytes.body(batch).size();
    for (int i = bodyStart + 8 + 16; i < bytes.length; i++) {
      bytes[i] = (byte) (bytes[i] * 31 + 7);
    }
    ByteString broken =
        IpcBytes.concat(List.of(messages.get(0), ByteString.copyFrom(bytes), IpcBytes.END_OF_STREAM));
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      decoder.append(broken);

      assertThatThrownBy(decoder::nextBatch)
          .isInstanceOf(ArrowChunkException.class)
          .hasMessageContaining("record batch 0");
    }
  }

  /**
   * Arrow C++ (so pyarrow) writes LZ4 frames with LZ4F's default preferences: linked blocks, which
   * lz4-java cannot read. A buffer over one 64 KiB block must still decode.
   */
  @Test
  void lz4FrameWithLinkedBlocks_asArrowCppWritesIt_decodes() throws Exception {
    byte[] values = new byte[200_000];
    for (int i = 0; i < values.length; i++) {
      values[i] = (byte) ((i * 7) % 251 ^ (i >> 12)); // Repeats across blocks: links pay off.
    }
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    try (FramedLZ4CompressorOutputStream out =
        new FramedLZ4CompressorOutputStream(
            frame,
            new FramedLZ4CompressorOutputStream.Parameters(
                FramedLZ4CompressorOutputStream.BlockSize.K64, true, false, true))) {
      out.write(values);
    }
    byte[] framed = frame.toByteArray();
    BufferAllocator allocator = arrow.allocator();
    ArrowBuf compressed = allocator.buffer(8 + framed.length);
    compressed.setLong(0, values.length); // Arrow's little-endian uncompressed length.
    compressed.setBytes(8, framed);
    compressed.writerIndex(8 + framed.length);

    // The codec takes ownership of the compressed buffer, as Arrow's codecs do.
    try (ArrowBuf decompressed = Lz4FrameCodec.INSTANCE.decompress(allocator, compressed)) {
      byte[] actual = new byte[values.length];
      decompressed.getBytes(0, actual);
      assertThat(actual).isEqualTo(values);
    }
  }
}
