/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The encoder's side of the zero-garbage stream path: it lends pooled arrays and takes them back on
 * release. (The decoder's side, borrowed buffers, is in {@link ArrowChunkDecoderReleaseTest}.)
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

  /** Encodes one batch of {@code rows} ints with a pool of 8, releases its chunks; the pool. */
  private ChunkPool encodeAndReleaseOneBatch(int rows) {
    ChunkPool pool = ChunkPool.create(CHUNK, 8);
    try (VectorSchemaRoot batch = ints(rows, 0)) {
      pooledEncoder(pool, batch).writeBatch(batch);
    }
    releases.forEach(Runnable::run);
    return pool;
  }

  @Test
  void aBatchsShortLastChunk_isPooledToo() {
    // 144,000 bytes of values and 4,500 of validity: two full chunks and a tail of about 17 KiB.
    // Allocated afresh, tails like it were most of a stream's garbage.
    ChunkPool pool = encodeAndReleaseOneBatch(36_000);

    assertThat(chunks).hasSize(3);
    assertThat(chunks.get(2).size()).isBetween(CHUNK / 8, CHUNK / 2);
    assertThat(pool.idleArrays()).as("every chunk's array came back").isEqualTo(3);
  }

  @Test
  void aShortBatchOnItsOwn_getsAnExactArray_notAPooledOne() {
    // About 21 KiB: a third of a chunk. Pooled, it would pin a whole array for a third of its
    // bytes while in flight; a client counts only the bytes against its replay budget.
    ChunkPool pool = encodeAndReleaseOneBatch(5_000);

    assertThat(chunks).hasSize(1);
    assertThat(chunks.get(0).size()).isBetween(CHUNK / 8, CHUNK / 2);
    assertThat(pool.idleArrays()).isZero();
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
  void clear_dropsTheIdleArrays_andThePoolKeepsWorking() {
    ChunkPool pool = ChunkPool.create(CHUNK, 4);
    byte[] first = pool.take();
    byte[] second = pool.take();
    pool.give(first);
    pool.give(second);
    assertThat(pool.idleArrays()).isEqualTo(2);

    pool.clear();

    assertThat(pool.idleArrays()).isZero();
    byte[] fresh = pool.take();
    assertThat(fresh).isNotSameAs(first).isNotSameAs(second).hasSize(CHUNK);
    pool.give(fresh);
    assertThat(pool.idleArrays()).isEqualTo(1);
  }

  @Test
  void poolOfAnotherSize_isRejected() {
    try (VectorSchemaRoot one = ints(1, 0)) {
      assertThatThrownBy(() -> pooledEncoder(ChunkPool.create(CHUNK * 2, 1), one))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxChunkBytes=" + CHUNK);
    }
  }
}
