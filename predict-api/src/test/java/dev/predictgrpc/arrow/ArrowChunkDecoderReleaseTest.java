/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static dev.predictgrpc.arrow.ArrowChunkException.Reason.LIMIT_EXCEEDED;
import static dev.predictgrpc.arrow.ArrowChunkException.Reason.MALFORMED;
import static dev.predictgrpc.arrow.TestData.assertSameBatch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ArrowChunkDecoder#append(List, Runnable)} runs each chunk's release action exactly once:
 * when the chunk's last byte has been decoded and not before, or when the decoder fails or is
 * closed, or at once when append throws. The chunks here are views of memory that their release
 * overwrites, as a pool reusing it would, so a decoder that read a chunk after releasing it would
 * decode garbage; each chunk is several views, some empty, like the network buffers a message
 * arrives in.
 */
class ArrowChunkDecoderReleaseTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Rows per batch: empty and single-row batches included. */
  private static final int[] ROWS = {50, 0, 1, 200, 7};

  /**
   * A chunk the test lends to the decoder: read-only views of one buffer, with filler before,
   * between and after them, cut in thirds with an empty view between the first two and another at
   * the end. Its release action overwrites the whole buffer.
   */
  private static final class Lent implements Runnable {
    private static final int GAP = 5;
    private static final byte FILLER = (byte) 0xAB;
    private static final byte POISON = (byte) 0xEE;

    final List<ByteBuffer> chunk = new ArrayList<>();
    private final ByteBuffer memory;
    private final List<int[]> bounds = new ArrayList<>();
    private final AtomicInteger runs = new AtomicInteger();

    /** {@code bytes} in direct memory. */
    Lent(ByteString bytes) {
      this(bytes, true);
    }

    Lent(ByteString bytes, boolean direct) {
      int size = bytes.size();
      int[] cuts = {size / 3, size / 3, 2 * size / 3, size};
      int capacity = size + GAP * (cuts.length + 2);
      memory = direct ? ByteBuffer.allocateDirect(capacity) : ByteBuffer.allocate(capacity);
      for (int i = 0; i < capacity; i++) {
        memory.put(i, FILLER);
      }
      int address = GAP;
      int from = 0;
      for (int i = 0; i <= cuts.length; i++) {
        int to = i < cuts.length ? cuts[i] : size;
        bytes.substring(from, to).copyTo(memory.duplicate().position(address));
        ByteBuffer view = memory.asReadOnlyBuffer();
        view.limit(address + to - from).position(address);
        chunk.add(view);
        bounds.add(new int[] {view.position(), view.limit()});
        address += to - from + GAP;
        from = to;
      }
    }

    @Override
    public void run() {
      runs.incrementAndGet();
      for (int i = 0; i < memory.capacity(); i++) {
        memory.put(i, POISON);
      }
    }

    int runs() {
      return runs.get();
    }

    /** Asserts the decoder read the views without moving their positions or limits. */
    void assertViewsUntouched() {
      for (int i = 0; i < chunk.size(); i++) {
        assertThat(new int[] {chunk.get(i).position(), chunk.get(i).limit()})
            .as("position and limit of view %s", i)
            .isEqualTo(bounds.get(i));
      }
    }
  }

  /** A release action that only counts. */
  private static final class Counter implements Runnable {
    private final AtomicInteger runs = new AtomicInteger();

    @Override
    public void run() {
      runs.incrementAndGet();
    }

    int runs() {
      return runs.get();
    }
  }

  /** An all-types stream, batch i filled with seed i and {@code rows[i]} rows, as one string. */
  private ByteString stream(int... rows) {
    List<ByteString> chunks = new ArrayList<>();
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator())) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(root.getSchema(), null, 1 << 20, chunks::add);
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        encoder.writeBatch(root);
      }
      encoder.end();
    }
    return IpcBytes.concat(chunks);
  }

  /** Where each framed message of {@code stream} ends: the schema's, each batch's, the marker's. */
  private static int[] messageEnds(ByteString stream) {
    List<ByteString> messages = IpcBytes.messages(stream);
    int[] ends = new int[messages.size()];
    int end = 0;
    for (int i = 0; i < ends.length; i++) {
      end += messages.get(i).size();
      ends[i] = end;
    }
    return ends;
  }

  /** Lends each chunk, alternately in direct and heap memory. */
  private static List<Lent> lend(List<ByteString> chunks) {
    List<Lent> lent = new ArrayList<>();
    for (ByteString chunk : chunks) {
      lent.add(new Lent(chunk, lent.size() % 2 == 0));
    }
    return lent;
  }

  private void assertBatch(ArrowChunkDecoder decoder, int index) {
    try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), index, ROWS[index])) {
      assertSameBatch(decoder.root(), expected);
    }
  }

  private static int[] runs(List<Lent> lent) {
    return lent.stream().mapToInt(Lent::runs).toArray();
  }

  /** 1 for each chunk that is empty or ends by {@code consumed}, else 0. */
  private static int[] expectedRuns(List<ByteString> chunks, int[] chunkEnds, int consumed) {
    int[] runs = new int[chunks.size()];
    for (int c = 0; c < runs.length; c++) {
      runs[c] = chunks.get(c).isEmpty() || chunkEnds[c] <= consumed ? 1 : 0;
    }
    return runs;
  }

  private static List<ByteBuffer> bytes(String text) {
    return List.of(ByteString.copyFromUtf8(text).asReadOnlyByteBuffer());
  }

  private static void assertEachRanOnce(List<Lent> lent) {
    int[] once = new int[lent.size()];
    Arrays.fill(once, 1);
    assertThat(runs(lent)).as("releases per chunk").isEqualTo(once);
  }

  /** Ways to cut the stream: byte-sized pieces, cuts inside prefixes, whole messages, etc. */
  static Stream<Arguments> cuts() {
    return Stream.of(
        Arguments.of(Named.of("random 1 to 7 bytes", new int[] {1, 7})),
        Arguments.of(Named.of("random 1 to 300 bytes", new int[] {2, 300})),
        Arguments.of(Named.of("random 1 to 5000 bytes", new int[] {3, 5000})),
        Arguments.of(Named.of("random 1 to 50000 bytes", new int[] {4, 50_000})));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cuts")
  void chunk_isReleasedOnceItsLastByteIsDecoded_andNotBefore(int[] seedAndMaxSize) {
    ByteString stream = stream(ROWS);
    int[] ends = messageEnds(stream);
    List<ByteString> chunks =
        IpcBytes.cutRandomly(stream, new Random(seedAndMaxSize[0]), seedAndMaxSize[1]);
    List<Lent> lent = lend(chunks);
    int[] chunkEnds = new int[chunks.size()];
    for (int c = 0, end = 0; c < chunks.size(); c++) {
      end += chunks.get(c).size();
      chunkEnds[c] = end;
    }

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      for (Lent chunk : lent) {
        decoder.append(chunk.chunk, chunk);
      }
      // Only the empty chunks are done with before anything is decoded.
      assertThat(runs(lent)).isEqualTo(expectedRuns(chunks, chunkEnds, 0));
      for (int batch = 0; batch < ROWS.length; batch++) {
        assertThat(decoder.nextBatch()).as("batch %s", batch).isTrue();
        // The decoder stops at the end of the batch: chunks ending there or before are released,
        // chunks holding later bytes are not.
        assertThat(runs(lent))
            .as("releases per chunk after batch %s", batch)
            .isEqualTo(expectedRuns(chunks, chunkEnds, ends[batch + 1]));
        // Decoded from copies: the released chunks' memory is garbage by now.
        assertBatch(decoder, batch);
      }
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(decoder.isEndOfStream()).isTrue();
      assertEachRanOnce(lent);
      decoder.finish();
    }
    assertEachRanOnce(lent);
    lent.forEach(Lent::assertViewsUntouched);
  }

  @Test
  void chunkHoldingTheEndOfOneBatchAndTheStartOfTheNext_isReleasedWhenTheNextBatchIsRead() {
    ByteString stream = stream(ROWS[0], ROWS[3]);
    int[] ends = messageEnds(stream);
    // first: the schema and most of batch 0; middle: the rest of batch 0 and most of batch 1;
    // last: the rest of batch 1 and the end-of-stream marker.
    int cut1 = ends[1] - 100;
    int cut2 = ends[2] - 100;
    Lent first = new Lent(stream.substring(0, cut1));
    Lent middle = new Lent(stream.substring(cut1, cut2));
    Lent last = new Lent(stream.substring(cut2));

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      decoder.append(first.chunk, first);
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(first.runs()).as("holds batch 0's body until all of it has arrived").isZero();

      decoder.append(middle.chunk, middle);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(first.runs()).isEqualTo(1);
      assertThat(middle.runs()).as("still holds the start of batch 1").isZero();
      try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), 0, ROWS[0])) {
        assertSameBatch(decoder.root(), expected);
      }
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(middle.runs()).as("batch 1's body is not complete yet").isZero();

      decoder.append(last.chunk, last);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(middle.runs()).isEqualTo(1);
      assertThat(last.runs()).as("still holds the end-of-stream marker").isZero();
      try (VectorSchemaRoot expected = TestData.allTypes(arrow.allocator(), 1, ROWS[3])) {
        assertSameBatch(decoder.root(), expected);
      }
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(last.runs()).isEqualTo(1);
      assertThat(decoder.isEndOfStream()).isTrue();
      decoder.finish();
    }
    assertEachRanOnce(List.of(first, middle, last));
  }

  @Test
  void chunksQueuedAtOnce_spanningBatches_areReleasedAsEachBatchPassesThem() {
    ByteString stream = stream(ROWS[0], ROWS[3]);
    int[] ends = messageEnds(stream);
    int cut1 = ends[1] - 100;
    int cut2 = ends[2] - 100;
    Lent first = new Lent(stream.substring(0, cut1));
    Lent middle = new Lent(stream.substring(cut1, cut2));
    Lent last = new Lent(stream.substring(cut2));

    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      for (Lent chunk : List.of(first, middle, last)) {
        decoder.append(chunk.chunk, chunk);
      }
      assertThat(first.runs() + middle.runs() + last.runs()).isZero();

      assertThat(decoder.nextBatch()).isTrue();
      assertThat(List.of(first.runs(), middle.runs(), last.runs())).containsExactly(1, 0, 0);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(List.of(first.runs(), middle.runs(), last.runs())).containsExactly(1, 1, 0);
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(List.of(first.runs(), middle.runs(), last.runs())).containsExactly(1, 1, 1);
    }
    assertEachRanOnce(List.of(first, middle, last));
  }

  @Test
  void close_releasesEveryQueuedChunkOnce() {
    ByteString stream = stream(ROWS);
    List<Lent> lent = lend(IpcBytes.cut(stream, 1000));
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    for (Lent chunk : lent) {
      decoder.append(chunk.chunk, chunk);
    }
    assertThat(decoder.nextBatch()).isTrue(); // Part of the input consumed, the rest queued.
    assertThat(lent.get(lent.size() - 1).runs()).isZero();

    decoder.close();
    decoder.close();

    assertEachRanOnce(lent);
  }

  @Test
  void close_runsEveryRelease_andFreesArrowMemory_evenIfAReleaseThrows() {
    ByteString stream = stream(ROWS[3], ROWS[3]);
    int[] ends = messageEnds(stream);
    // Batch 0 decoded and batch 1's body half-assembled when close() runs: Arrow memory is held.
    int cut = ends[1] + (ends[2] - ends[1]) / 2;
    Lent head = new Lent(stream.substring(0, cut));
    Counter throwing = new Counter();
    Lent tail = new Lent(stream.substring(cut + 10));
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    decoder.append(head.chunk, head);
    assertThat(decoder.nextBatch()).isTrue();
    assertThat(decoder.nextBatch()).isFalse();
    assertThat(arrow.allocator().getAllocatedMemory()).isPositive();
    decoder.append(
        List.of(stream.substring(cut, cut + 10).asReadOnlyByteBuffer()),
        () -> {
          throwing.run();
          throw new IllegalStateException("release failed");
        });
    decoder.append(tail.chunk, tail);

    assertThatThrownBy(decoder::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("release failed");

    assertThat(head.runs()).isEqualTo(1);
    assertThat(throwing.runs()).isEqualTo(1);
    assertThat(tail.runs()).isEqualTo(1);
    assertThat(arrow.allocator().getAllocatedMemory()).isZero();
    decoder.close();
    assertThat(throwing.runs()).isEqualTo(1);
  }

  @Test
  void malformedInput_releasesEveryQueuedChunk_andLaterAppendsAtOnce() {
    ByteString stream = stream(ROWS[0], ROWS[1]);
    int[] ends = messageEnds(stream);
    // After batch 0: a message prefix announcing a negative metadata length, with bytes after it.
    Lent valid = new Lent(stream.substring(0, ends[1]));
    Lent malformed = new Lent(IpcBytes.prefix(-8).concat(stream.substring(ends[1], ends[1] + 40)));
    Lent neverRead = new Lent(stream.substring(ends[1]));
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    try {
      for (Lent chunk : List.of(valid, malformed, neverRead)) {
        decoder.append(chunk.chunk, chunk);
      }
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(List.of(valid.runs(), malformed.runs(), neverRead.runs()))
          .containsExactly(1, 0, 0);

      assertThatThrownBy(decoder::nextBatch)
          .isInstanceOfSatisfying(
              ArrowChunkException.class, e -> assertThat(e.reason()).isEqualTo(MALFORMED))
          .hasMessageContaining("negative metadata length");

      assertEachRanOnce(List.of(valid, malformed, neverRead));
      Counter late = new Counter();
      assertThatThrownBy(() -> decoder.append(bytes("late"), late))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("failed");
      assertThat(late.runs()).isEqualTo(1);
    } finally {
      decoder.close();
    }
    assertEachRanOnce(List.of(valid, malformed, neverRead));
  }

  @Test
  void messageOverALimit_releasesEveryQueuedChunk() {
    ByteString stream = stream(ROWS);
    // A limit that the schema and the first three batches fit, and the 200-row batch does not.
    List<ByteString> messages = IpcBytes.messages(stream);
    int limit = 0;
    for (int m = 0; m <= 3; m++) {
      limit = Math.max(limit, messages.get(m).size());
    }
    assertThat(messages.get(4).size() - 8).isGreaterThan(limit);
    List<Lent> lent = lend(IpcBytes.cut(stream, 700));
    ArrowChunkDecoder decoder =
        ArrowChunkDecoder.builder(arrow.allocator()).maxMessageBytes(limit).build();
    try {
      for (Lent chunk : lent) {
        decoder.append(chunk.chunk, chunk);
      }

      AtomicInteger decoded = new AtomicInteger();
      assertThatThrownBy(
              () -> {
                while (decoder.nextBatch()) {
                  decoded.incrementAndGet();
                }
              })
          .isInstanceOfSatisfying(
              ArrowChunkException.class, e -> assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED))
          .hasMessageContaining("maxMessageBytes");

      assertThat(decoded.get()).isEqualTo(3);
      assertEachRanOnce(lent);
    } finally {
      decoder.close();
    }
    assertEachRanOnce(lent);
  }

  @Test
  void dataAfterTheEndOfStreamInTheSameChunk_failsAndReleasesIt() {
    Lent chunk = new Lent(stream(ROWS[0]).concat(ByteString.copyFromUtf8("trailing")));
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    try {
      decoder.append(chunk.chunk, chunk);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(chunk.runs()).isZero();

      assertThatThrownBy(decoder::nextBatch)
          .isInstanceOf(ArrowChunkException.class)
          .hasMessageContaining("after the Arrow IPC end-of-stream marker");

      assertThat(chunk.runs()).isEqualTo(1);
    } finally {
      decoder.close();
    }
    assertThat(chunk.runs()).isEqualTo(1);
  }

  @Test
  void appendAfterTheEndOfStream_throwsAndReleasesTheChunkAtOnce() {
    Lent whole = new Lent(stream(ROWS[0]));
    Lent late = new Lent(ByteString.copyFromUtf8("late"));
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    try {
      decoder.append(whole.chunk, whole);
      assertThat(decoder.nextBatch()).isTrue();
      assertThat(decoder.nextBatch()).isFalse();
      assertThat(decoder.isEndOfStream()).isTrue();

      assertThatThrownBy(() -> decoder.append(late.chunk, late))
          .isInstanceOf(ArrowChunkException.class)
          .hasMessageContaining("after the Arrow IPC end-of-stream marker");

      assertThat(late.runs()).isEqualTo(1);
    } finally {
      decoder.close();
    }
    assertEachRanOnce(List.of(whole, late));
  }

  @Test
  void appendOverMaxStreamBytes_releasesThatChunkAndEveryQueuedOne() {
    ByteString stream = stream(ROWS);
    Lent queued = new Lent(stream.substring(0, stream.size() / 2));
    Lent over = new Lent(stream.substring(stream.size() / 2));
    ArrowChunkDecoder decoder =
        ArrowChunkDecoder.builder(arrow.allocator()).maxStreamBytes(stream.size() - 1).build();
    try {
      decoder.append(queued.chunk, queued);
      assertThat(queued.runs()).isZero();

      assertThatThrownBy(() -> decoder.append(over.chunk, over))
          .isInstanceOfSatisfying(
              ArrowChunkException.class, e -> assertThat(e.reason()).isEqualTo(LIMIT_EXCEEDED))
          .hasMessageContaining("maxStreamBytes");

      assertThat(over.runs()).isEqualTo(1);
      assertThat(queued.runs()).isEqualTo(1);
    } finally {
      decoder.close();
    }
    assertEachRanOnce(List.of(queued, over));
  }

  @Test
  void appendAfterClose_throwsIllegalStateAndReleasesTheChunk() {
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    decoder.close();
    Counter release = new Counter();

    assertThatThrownBy(() -> decoder.append(bytes("x"), release))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");

    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void emptyChunk_isReleasedAtOnce_inEveryState() {
    ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build();
    Counter beforeData = new Counter();
    Counter midStream = new Counter();
    Counter afterTheEnd = new Counter();
    Counter afterClose = new Counter();
    ByteString stream = stream(ROWS[0]);

    decoder.append(List.of(), beforeData);
    assertThat(beforeData.runs()).isEqualTo(1);
    decoder.append(stream.substring(0, 10));
    decoder.append(List.of(ByteBuffer.allocate(0), ByteBuffer.allocateDirect(0)), midStream);
    assertThat(midStream.runs()).isEqualTo(1);
    decoder.append(stream.substring(10));
    assertThat(decoder.nextBatch()).isTrue();
    assertThat(decoder.nextBatch()).isFalse();
    decoder.append(List.of(ByteBuffer.allocate(0)), afterTheEnd); // Nothing after the end: fine.
    assertThat(afterTheEnd.runs()).isEqualTo(1);
    decoder.finish();
    decoder.close();
    assertThatThrownBy(() -> decoder.append(List.of(), afterClose))
        .isInstanceOf(IllegalStateException.class);
    assertThat(afterClose.runs()).isEqualTo(1);

    assertThat(List.of(beforeData.runs(), midStream.runs(), afterTheEnd.runs(), afterClose.runs()))
        .containsOnly(1);
  }

  @Test
  void nullChunk_throwsAndRunsTheRelease() {
    Counter release = new Counter();
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      assertThatThrownBy(() -> decoder.append(null, release))
          .isInstanceOf(NullPointerException.class)
          .hasMessageContaining("chunk");
      assertThat(release.runs()).isEqualTo(1);
    }
    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void chunkWithANullView_throwsAndRunsTheRelease() {
    Counter release = new Counter();
    List<ByteBuffer> chunk = Arrays.asList(ByteBuffer.allocate(3), null);
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      assertThatThrownBy(() -> decoder.append(chunk, release))
          .isInstanceOf(NullPointerException.class);
      assertThat(release.runs()).isEqualTo(1);
      assertThat(decoder.bytesReceived()).isZero();
    }
    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void lentChunks_mixWithCopiedOnes() {
    ByteString stream = stream(ROWS);
    List<ByteString> chunks = IpcBytes.cut(stream, 997);
    List<Lent> lent = new ArrayList<>();
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      int batch = 0;
      for (int c = 0; c < chunks.size(); c++) {
        if (c % 2 == 0) {
          decoder.append(chunks.get(c));
        } else {
          Lent chunk = new Lent(chunks.get(c));
          lent.add(chunk);
          decoder.append(chunk.chunk, chunk);
        }
        while (decoder.nextBatch()) {
          assertBatch(decoder, batch++);
        }
        // Chunks of a body still arriving are held; none is released twice.
        assertThat(lent).allSatisfy(chunk -> assertThat(chunk.runs()).isLessThanOrEqualTo(1));
      }
      decoder.finish();
      assertThat(batch).isEqualTo(ROWS.length);
      assertThat(decoder.bytesReceived()).isEqualTo(stream.size());
    }
    assertEachRanOnce(lent);
  }

  @Test
  void nullRelease_isRejected_andTheChunkNotQueued() {
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(arrow.allocator()).build()) {
      assertThatThrownBy(() -> decoder.append(bytes("x"), null))
          .isInstanceOf(NullPointerException.class)
          .hasMessageContaining("release");
      assertThat(decoder.bytesReceived()).isZero();
      assertThat(decoder.nextBatch()).isFalse();
    }
  }
}
