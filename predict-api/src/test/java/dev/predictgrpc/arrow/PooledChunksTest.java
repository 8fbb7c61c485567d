/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The two ends of the zero-garbage stream path: the encoder lends pooled arrays and takes them back
 * on release, and the decoder reads borrowed buffers and releases them exactly once.
 */
class PooledChunksTest {
  private static final int CHUNK = 64 << 10;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<ByteString> chunks = new ArrayList<>();
  private final List<Runnable> releases = new ArrayList<>();

  private VectorSchemaRoot ints(int rows, int offset) {
    VectorSchemaRoot root =
        VectorSchemaRoot.create(
            new Schema(List.of(Field.nullable("x", new ArrowType.Int(32, true)))),
            arrow.allocator());
    IntVector vector = (IntVector) root.getVector(0);
    vector.allocateNew(rows);
    for (int r = 0; r < rows; r++) {
      vector.set(r, offset + r);
    }
    root.setRowCount(rows);
    return root;
  }

  private ArrowChunkEncoder pooledEncoder(ChunkPool pool, VectorSchemaRoot root) {
    return ArrowChunkEncoder.create(
        root.getSchema(),
        null,
        CHUNK,
        pool,
        (chunk, release) -> {
          chunks.add(chunk);
          releases.add(release);
        });
  }

  @Test
  void bigBatches_reuseThePoolsArraysOnceReleased() {
    ChunkPool pool = ChunkPool.create(CHUNK, 4);
    try (VectorSchemaRoot first = ints(100_000, 0);
        VectorSchemaRoot second = ints(100_000, 100_000)) {
      ArrowChunkEncoder encoder = pooledEncoder(pool, first);
      encoder.writeBatch(first);
      List<ByteString> firstChunks = List.copyOf(chunks);
      List<byte[]> firstCopies = new ArrayList<>();
      firstChunks.forEach(c -> firstCopies.add(c.toByteArray()));
      releases.forEach(Runnable::run);
      releases.clear();
      assertThat(pool.idleArrays()).isBetween(1, 4);

      chunks.clear();
      encoder.writeBatch(second);
      encoder.end();

      // The second batch overwrote released arrays: proof they were reused, not reallocated.
      boolean anyOverwritten = false;
      for (int i = 0; i < firstChunks.size(); i++) {
        anyOverwritten |= !firstChunks.get(i).equals(ByteString.copyFrom(firstCopies.get(i)));
      }
      assertThat(anyOverwritten).isTrue();
      assertThat(chunks).allSatisfy(c -> assertThat(c.size()).isLessThanOrEqualTo(CHUNK));
    }
  }

  @Test
  void pooledStream_decodesToTheSameValues() {
    ChunkPool pool = ChunkPool.create(CHUNK, 2);
    try (VectorSchemaRoot batch = ints(50_000, 7);
        ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      ArrowChunkEncoder encoder = pooledEncoder(pool, batch);
      encoder.writeBatch(batch);
      encoder.end();
      chunks.forEach(decoder::append);

      assertThat(decoder.nextBatch()).isTrue();
      IntVector decoded = (IntVector) decoder.root().getVector(0);
      assertThat(decoded.getValueCount()).isEqualTo(50_000);
      assertThat(decoded.get(0)).isEqualTo(7);
      assertThat(decoded.get(49_999)).isEqualTo(7 + 49_999);
      releases.forEach(Runnable::run);
    }
  }

  @Test
  void smallBatches_useFreshArrays_andLeaveThePoolAlone() {
    ChunkPool pool = ChunkPool.create(CHUNK, 4);
    try (VectorSchemaRoot one = ints(1, 0)) {
      ArrowChunkEncoder encoder = pooledEncoder(pool, one);
      encoder.writeBatch(one);
      encoder.end();
      releases.forEach(Runnable::run);

      assertThat(pool.idleArrays()).isZero();
    }
  }

  @Test
  void poolOfAnotherSize_isRejected() {
    try (VectorSchemaRoot one = ints(1, 0)) {
      assertThatThrownBy(() -> pooledEncoder(ChunkPool.create(CHUNK * 2, 1), one))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxChunkBytes=" + CHUNK);
    }
  }

  @Test
  void borrowedBuffers_areReleasedOnceFullyRead_notBefore() {
    List<ByteBuffer> direct = directCopies(streamOfTwoBatches());
    // Cut the stream into two borrowed chunks at an arbitrary point inside the first batch.
    ByteBuffer all = direct.get(0);
    int cut = all.remaining() / 3;
    AtomicInteger firstReleased = new AtomicInteger();
    AtomicInteger secondReleased = new AtomicInteger();
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      decoder.append(List.of(all.duplicate().limit(cut)), firstReleased::incrementAndGet);
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(firstReleased).hasValue(1); // Consumed into the message being assembled.

      ByteBuffer rest = all.duplicate().position(cut);
      decoder.append(List.of(rest.slice(cut, 10), rest.slice(cut + 10, rest.remaining() - 10)),
          secondReleased::incrementAndGet);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(secondReleased).hasValue(0); // The second batch is still queued.
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(((IntVector) decoder.root().getVector(0)).get(0)).isEqualTo(1000);
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(secondReleased).hasValue(1);
      decoder.finish();
    }
    assertThat(firstReleased).hasValue(1);
    assertThat(secondReleased).hasValue(1);
  }

  @Test
  void borrowedBuffers_areReleasedOnClose_andWhenAppendThrows() {
    List<ByteBuffer> direct = directCopies(streamOfTwoBatches());
    AtomicInteger queued = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    AtomicInteger empty = new AtomicInteger();
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    decoder.append(direct, queued::incrementAndGet);
    decoder.append(List.of(ByteBuffer.allocateDirect(0)), empty::incrementAndGet);
    assertThat(empty).hasValue(1);
    decoder.close();
    assertThat(queued).hasValue(1);

    assertThatThrownBy(() -> decoder.append(directCopies(ByteString.copyFromUtf8("x")),
            refused::incrementAndGet))
        .isInstanceOf(IllegalStateException.class);
    assertThat(refused).hasValue(1);
  }

  @Test
  void borrowedBuffers_areReleasedWhenTheInputIsMalformed() {
    AtomicInteger released = new AtomicInteger();
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      ByteBuffer garbage = ByteBuffer.allocateDirect(64);
      for (int i = 0; i < 64; i++) {
        garbage.put(i, (byte) 0x7F);
      }
      decoder.append(List.of(garbage), released::incrementAndGet);
      assertThatThrownBy(decoder::nextBatch).isInstanceOf(ArrowChunkException.class);
      assertThat(released).hasValue(1);
    }
    assertThat(released).hasValue(1);
  }

  private ByteString streamOfTwoBatches() {
    List<ByteString> parts = new ArrayList<>();
    try (VectorSchemaRoot first = ints(1000, 0);
        VectorSchemaRoot second = ints(1000, 1000)) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(first.getSchema(), null, CHUNK, parts::add);
      encoder.writeBatch(first);
      encoder.writeBatch(second);
      encoder.end();
    }
    return ByteString.copyFrom(parts);
  }

  private static List<ByteBuffer> directCopies(ByteString bytes) {
    ByteBuffer direct = ByteBuffer.allocateDirect(bytes.size());
    bytes.copyTo(direct);
    direct.flip();
    return List.of(direct);
  }
}
