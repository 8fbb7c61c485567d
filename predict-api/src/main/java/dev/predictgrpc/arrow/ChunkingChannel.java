/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import org.apache.arrow.memory.ArrowBuf;
import org.jspecify.annotations.Nullable;

/**
 * A channel that cuts what is written to it into chunks of at most {@code maxChunkBytes} and hands
 * each full chunk to a {@link PooledChunkSink}. Not thread-safe.
 *
 * <p>Each chunk is written once into an array and wrapped without a copy. Without a pool the array
 * is fresh and never reused, since the sink (gRPC) may hold the chunk after we return. With a
 * {@link ChunkPool}, arrays for big chunks (and for the tails of batches bigger than a chunk) come
 * from the pool and go back to it when the sink releases the chunk; small arrays (one-row batches)
 * are fresh, as allocating them costs less than holding a whole pooled array per call.
 */
final class ChunkingChannel implements WritableByteChannel {
  /** A flushed tail smaller than this fraction of its array is copied to an exact-size array. */
  private static final int SMALL_TAIL_DIVISOR = 8;

  /**
   * The array allocated when no size was announced, or more bytes came than were. Otherwise arrays
   * are sized to the bytes expected before the next flush (see {@link #expect}), so a one-row unary
   * batch does not allocate and zero a whole 1 MiB chunk (the benchmark measured that as most of a
   * unary call's cost, and 1 MiB arrays are G1 humongous objects besides), nor even 16 KiB: zeroing
   * two of those was a third of encoding a one-row, 16-column request.
   */
  static final int UNANNOUNCED_ARRAY_BYTES = 16 << 10;

  private static final Runnable NOTHING_TO_RELEASE = () -> {};

  private final int maxChunkBytes;
  private final PooledChunkSink sink;
  private final @Nullable ChunkPool pool;
  private byte[] current;
  /** Whether {@link #current} came from the pool and must go back to it. */
  private boolean currentPooled;
  private int filled;
  private long expected;
  private long bytesEmitted;
  /** Whether a chunk of {@code maxChunkBytes} went out since the last flush (batch end). */
  private boolean fullChunkSinceFlush;
  private boolean open = true;

  ChunkingChannel(int maxChunkBytes, @Nullable ChunkPool pool, PooledChunkSink sink) {
    this.maxChunkBytes = maxChunkBytes;
    this.pool = pool;
    this.sink = sink;
  }

  @Override
  public int write(ByteBuffer src) {
    int written = src.remaining();
    while (src.hasRemaining()) {
      if (current == null) {
        allocate();
      }
      int n = Math.min(src.remaining(), current.length - filled);
      src.get(current, filled, n);
      advance(n);
    }
    return written;
  }

  /**
   * Copies {@code length} bytes of {@code src} from {@code index} straight from Arrow memory into
   * chunk arrays. {@link org.apache.arrow.vector.ipc.WriteChannel#write(ArrowBuf)} would first
   * wrap the buffer in a new direct ByteBuffer, built reflectively: for a one-row, 16-column
   * request that was 32 wrappers and a tenth of encoding it.
   */
  void write(ArrowBuf src, long index, long length) {
    long done = 0;
    while (done < length) {
      if (current == null) {
        allocate();
      }
      int n = (int) Math.min(length - done, current.length - filled);
      src.getBytes(index + done, current, filled, n);
      advance(n);
      done += n;
    }
  }

  /** Writes {@code bytes} whole. */
  void write(byte[] bytes) {
    int done = 0;
    while (done < bytes.length) {
      if (current == null) {
        allocate();
      }
      int n = Math.min(bytes.length - done, current.length - filled);
      System.arraycopy(bytes, done, current, filled, n);
      advance(n);
      done += n;
    }
  }

  /** Writes {@code value} as four little-endian bytes, as Arrow IPC prefixes are written. */
  void writeIntLittleEndian(int value) {
    for (int shift = 0; shift < Integer.SIZE; shift += Byte.SIZE) {
      writeByte((byte) (value >>> shift));
    }
  }

  /** Writes {@code count} zero bytes (padding). */
  void writeZeros(long count) {
    for (long i = 0; i < count; i++) {
      writeByte((byte) 0);
    }
  }

  private void writeByte(byte value) {
    if (current == null) {
      allocate();
    }
    current[filled] = value;
    advance(1);
  }

  private void advance(int n) {
    filled += n;
    expected = Math.max(0, expected - n);
    if (filled == current.length) {
      emitCurrent();
    }
  }

  /** Bytes written so far, handed to the sink or not: where the next byte lands in the stream. */
  long position() {
    return bytesEmitted + filled;
  }

  /**
   * Announces how many bytes will be written before the next {@link #flush()}, so chunk arrays can
   * be sized to them. Only a hint: more or fewer bytes may follow.
   */
  void expect(long bytes) {
    this.expected = bytes;
  }

  /** Raises the announced byte count to at least {@code bytes}. */
  void expectAtLeast(long bytes) {
    this.expected = Math.max(expected, bytes);
  }

  /** Hands the partly filled chunk, if any, to the sink. */
  void flush() {
    expected = 0;
    if (filled > 0) {
      if (filled < current.length / SMALL_TAIL_DIVISOR) {
        // Keep the big array for the next batch rather than pinning it under a tiny chunk.
        emit(ByteString.copyFrom(current, 0, filled), NOTHING_TO_RELEASE);
      } else {
        emitCurrent();
      }
    }
    fullChunkSinceFlush = false;
  }

  /** Gives a pooled array that holds no unsent bytes back to the pool; for the stream's end. */
  void recycle() {
    if (current != null && filled == 0 && currentPooled) {
      pool.give(current);
      current = null;
    }
  }

  private void allocate() {
    int wanted = (int) Math.min(maxChunkBytes, expected > 0 ? expected : UNANNOUNCED_ARRAY_BYTES);
    currentPooled = pool != null && (wanted >= maxChunkBytes / 2 || isTailOfABigBatch(wanted));
    current = currentPooled ? pool.take() : new byte[wanted];
  }

  /**
   * Whether {@code wanted} bytes end a batch that already filled a whole chunk, and are not so few
   * that {@link #flush()} would copy them out. Such tails come from the pool too: 65,536 rows of
   * 16 float32 columns end in a 130 KiB chunk, and allocating those afresh was most of the garbage
   * of a long stream. Pooling them pins a whole array under a short chunk while it is in flight,
   * but only behind at least one full chunk, so an in-flight batch never holds more than twice
   * its bytes (a client counts only the bytes against its replay budget). Short batches still get
   * exact arrays.
   */
  private boolean isTailOfABigBatch(int wanted) {
    return fullChunkSinceFlush && wanted >= maxChunkBytes / SMALL_TAIL_DIVISOR;
  }

  private void emitCurrent() {
    byte[] array = current;
    ByteString chunk = UnsafeByteOperations.unsafeWrap(array, 0, filled);
    Runnable release = currentPooled ? () -> pool.give(array) : NOTHING_TO_RELEASE;
    current = null;
    emit(chunk, release);
  }

  long bytesEmitted() {
    return bytesEmitted;
  }

  private void emit(ByteString chunk, Runnable release) {
    fullChunkSinceFlush |= chunk.size() == maxChunkBytes;
    bytesEmitted += chunk.size();
    filled = 0;
    sink.accept(chunk, release);
  }

  @Override
  public boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    open = false;
  }
}
