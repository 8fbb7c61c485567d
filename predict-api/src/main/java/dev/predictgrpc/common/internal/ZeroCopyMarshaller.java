/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Message;
import com.google.protobuf.WireFormat;
import dev.predictgrpc.arrow.ChunkPool;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor.PrototypeMarshaller;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A protobuf marshaller that receives large messages made of one {@code bytes} field without
 * copying those bytes out of the transport's buffers.
 *
 * <p>gRPC's own protobuf marshaller copies every inbound message twice before our code sees it:
 * from the transport's buffers into a scratch array, and from that array into the message's
 * {@code ByteString}. For a 1 MiB chunk of Arrow IPC that is 2 MiB of copying and 1 MiB of
 * garbage per message, and the decoder then copies the bytes a third time into Arrow memory. This
 * marshaller uses the transport's {@link Detachable} and {@link HasByteBuffer} streams (grpc-netty
 * provides both) to take ownership of the received buffers instead, so the Arrow copy is the only
 * one. A {@code ByteString} cannot hold them: from protobuf 4.x, wrapping a direct buffer copies
 * it. So the bytes travel beside the message, as {@link ReceivedBytes}.
 *
 * <p><b>What the receiver sees.</b> A message received without a copy has its bytes field set to
 * the empty string, which marks which field it was, and {@link #takeBytes} hands over its bytes.
 * Only the common shape is received this way: a message of at least {@value #MIN_ZERO_COPY_BYTES}
 * bytes that is exactly one occurrence of the chosen field. Anything else (a header message,
 * unknown fields, a field repeated, a transport without those streams such as in-process) is
 * parsed by protobuf as usual, and {@link #takeBytes} returns null for it.
 *
 * <p><b>When the buffers cannot be exposed.</b> grpc-netty reports some messages as not
 * ByteBuffer-capable (in our streams about one in fourteen: those whose buffers include an empty
 * slice). With a {@link ChunkPool}, such a message of up to one pooled array is copied once into a
 * pooled array and handed over the same way, released back to the pool; without one, or when it
 * is larger, protobuf parses it. Before, each of those was two 1 MiB garbage arrays, which G1
 * allocates as humongous objects, and they drove most of the heap growth of a long stream.
 *
 * <p><b>Ownership.</b> Whoever receives a message must call {@link #takeBytes} or {@link #discard}
 * with it once, and release the bytes taken; forgetting leaks pooled network memory.
 *
 * <p>Thread-safe: messages may be parsed, taken and discarded on any threads.
 *
 * @param <T> the message type
 */
public final class ZeroCopyMarshaller<T extends Message> implements PrototypeMarshaller<T> {
  /**
   * Below this size a message is copied as usual: detaching costs a few allocations and a map
   * entry, more than copying a few KiB. Chunks of Arrow batches are far above it.
   */
  public static final int MIN_ZERO_COPY_BYTES = 16 << 10;

  private final PrototypeMarshaller<T> copying;
  private final T prototype;
  /** The tag (field number and wire type 2) of the field received without a copy. */
  private final int bytesFieldTag;
  /** Makes the message that stands for a received one: its bytes field set, and empty. */
  private final Supplier<T> placeholder;
  /** Arrays for messages the transport cannot expose as ByteBuffers; null: parse those. */
  private final @Nullable ChunkPool copyPool;

  /**
   * The bytes of each message received without a copy, by identity: each placeholder is a new
   * object, while equals and hashCode would find all placeholders alike.
   */
  private final Map<T, ReceivedBytes> bytesByMessage = new IdentityHashMap<>();

  /** The message being sent by {@link #sendLent} on this thread, until gRPC serializes it. */
  private final ThreadLocal<@Nullable Lent<T>> lending = new ThreadLocal<>();

  /** A message whose bytes are lent, and whether gRPC has taken on giving them back. */
  private static final class Lent<T> {
    final T message;
    final Runnable release;
    boolean claimed;

    Lent(T message, Runnable release) {
      this.message = message;
      this.release = release;
    }
  }

  /**
   * Creates a marshaller for messages of {@code prototype}'s type.
   *
   * @param bytesFieldNumber the {@code bytes} field to receive without a copy
   * @param placeholder makes a new message with only that field set, to the empty string
   */
  public ZeroCopyMarshaller(T prototype, int bytesFieldNumber, Supplier<T> placeholder) {
    this(prototype, bytesFieldNumber, placeholder, null);
  }

  /**
   * As {@link #ZeroCopyMarshaller(Message, int, Supplier)}, and messages the transport cannot
   * expose as ByteBuffers are copied into arrays from {@code copyPool} (shared, not owned).
   */
  @SuppressWarnings("unchecked") // ProtoUtils declares a supertype of what it returns.
  public ZeroCopyMarshaller(
      T prototype, int bytesFieldNumber, Supplier<T> placeholder, @Nullable ChunkPool copyPool) {
    this.copyPool = copyPool;
    this.prototype = requireNonNull(prototype, "prototype");
    this.copying = (PrototypeMarshaller<T>) ProtoUtils.marshaller(prototype);
    // A protobuf tag is the field number shifted left by 3, or-ed with the wire type.
    this.bytesFieldTag = (bytesFieldNumber << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    this.placeholder = requireNonNull(placeholder, "placeholder");
  }

  @Override
  public Class<T> getMessageClass() {
    return copying.getMessageClass();
  }

  @Override
  public T getMessagePrototype() {
    return prototype;
  }

  @Override
  public InputStream stream(T value) {
    Lent<T> lent = lending.get();
    if (lent != null && lent.message == value && !lent.claimed) {
      lent.claimed = true;
      return new LentMessageStream(copying.stream(value), lent.release);
    }
    return copying.stream(value);
  }

  /**
   * Sends a message whose bytes are lent (a pooled array): runs {@code send}, which must hand
   * {@code message} to gRPC on this thread, and arranges for {@code release} to run once gRPC has
   * closed the stream it serialized the message into; or at once, if {@code send} returned
   * without serializing it (a cancelled call drops messages).
   *
   * <p>Only for calls where gRPC serializes each message once, while the send runs: server calls.
   * A client call may buffer messages to serialize again for a retry until it is committed.
   */
  public void sendLent(T message, Runnable release, Runnable send) {
    Lent<T> lent = new Lent<>(message, release);
    lending.set(lent);
    try {
      send.run();
    } finally {
      lending.remove();
      if (!lent.claimed) {
        release.run();
      }
    }
  }

  @Override
  public T parse(InputStream stream) {
    if (!canDetach(stream)) {
      return canCopyIntoPool(stream) ? parseIntoPooledArray(stream) : copying.parse(stream);
    }
    InputStream detached = ((Detachable) stream).detach();
    boolean handedOver = false;
    try {
      List<ByteBuffer> field = singleFieldBytes(readableBuffers(detached), detached.available());
      if (field == null) {
        // Not the single-field shape: let protobuf parse it, copying. Rare for large messages.
        return copying.parse(detached);
      }
      T message = placeholder.get();
      hold(message, new ReceivedBytes(field, () -> closeQuietly(detached)));
      handedOver = true;
      return message;
    } catch (IOException e) {
      throw new UncheckedIOException(e); // The detached stream reads memory; it does no I/O.
    } finally {
      if (!handedOver) {
        closeQuietly(detached);
      }
    }
  }

  /** Copies the message into a pooled array, then treats it as a received one; see the class. */
  private T parseIntoPooledArray(InputStream stream) {
    byte[] array = copyPool.take();
    boolean handedOver = false;
    try {
      int size = readFully(stream, array);
      ByteBuffer whole = ByteBuffer.wrap(array, 0, size);
      List<ByteBuffer> pieces = new ArrayList<>(1);
      pieces.add(whole);
      List<ByteBuffer> field = singleFieldBytes(pieces, size);
      if (field == null) {
        return copying.parse(new ByteArrayInputStream(array, 0, size));
      }
      T message = placeholder.get();
      hold(message, new ReceivedBytes(field, () -> copyPool.give(array)));
      handedOver = true;
      return message;
    } catch (IOException e) {
      throw new UncheckedIOException(e); // The transport's stream reads memory; it does no I/O.
    } finally {
      if (!handedOver) {
        copyPool.give(array);
      }
    }
  }

  private void hold(T message, ReceivedBytes bytes) {
    synchronized (bytesByMessage) {
      bytesByMessage.put(message, bytes);
    }
  }

  /** Reads all of {@code stream} into {@code array}, which canCopyIntoPool found large enough. */
  private static int readFully(InputStream stream, byte[] array) throws IOException {
    int size = 0;
    while (size < array.length) {
      int n = stream.read(array, size, array.length - size);
      if (n < 0) {
        break;
      }
      size += n;
    }
    if (stream.available() > 0) {
      throw new IllegalStateException("the message grew past its known length");
    }
    return size;
  }

  /**
   * Hands over the bytes of a message received without a copy; the caller must release them.
   * Returns null if {@code message} was parsed as usual (its bytes field then holds the bytes) or
   * its bytes were already taken.
   */
  public @Nullable ReceivedBytes takeBytes(T message) {
    synchronized (bytesByMessage) {
      return bytesByMessage.remove(message);
    }
  }

  /** Releases the bytes of {@code message} if it was received without a copy and not taken. */
  public void discard(T message) {
    ReceivedBytes bytes = takeBytes(message);
    if (bytes != null) {
      bytes.release();
    }
  }

  /** Messages received without a copy whose bytes were not taken yet; for tests. */
  public int untaken() {
    synchronized (bytesByMessage) {
      return bytesByMessage.size();
    }
  }

  private static boolean canDetach(InputStream stream) {
    try {
      return stream instanceof Detachable
          && stream instanceof KnownLength
          && stream instanceof HasByteBuffer
          && ((HasByteBuffer) stream).byteBufferSupported()
          && stream.markSupported() // Walking the buffers without freeing them needs a mark.
          && stream.available() >= MIN_ZERO_COPY_BYTES;
    } catch (IOException e) {
      return false;
    }
  }

  private boolean canCopyIntoPool(InputStream stream) {
    try {
      // Only a transport's own stream: protobuf parses an in-process call's message stream by
      // taking the message object itself, which no copy can beat.
      return copyPool != null
          && stream instanceof Detachable
          && stream instanceof KnownLength
          && stream.available() >= MIN_ZERO_COPY_BYTES
          && stream.available() <= copyPool.arrayBytes();
    } catch (IOException e) {
      return false;
    }
  }

  /** Views of the stream's remaining bytes, in order, without consuming or copying them. */
  private static List<ByteBuffer> readableBuffers(InputStream detached) throws IOException {
    // Walking the buffers with skip() would free each one as it is passed; the mark keeps them.
    int size = detached.available();
    detached.mark(size);
    // Over Netty a piece is one HTTP/2 DATA frame, 16 KiB unless the peer allows larger ones.
    List<ByteBuffer> pieces = new ArrayList<>(size / (16 << 10) + 2);
    while (detached.available() > 0) {
      ByteBuffer piece = requireNonNull(((HasByteBuffer) detached).getByteBuffer());
      pieces.add(piece);
      detached.skip(piece.remaining());
    }
    detached.reset();
    return pieces;
  }

  /**
   * If the message is exactly one occurrence of the bytes field, returns {@code pieces} moved past
   * the field's tag and length, so that they hold the field's bytes; else null.
   *
   * <p>The pieces are the transport's views, not copies: {@link HasByteBuffer#getByteBuffer()}
   * returns a buffer whose position and limit are the caller's to change. Wrapping each in a
   * read-only view would guard them against our own decoder writing, which it never does, at the
   * price of one more object per 16 KiB received.
   */
  private @Nullable List<ByteBuffer> singleFieldBytes(List<ByteBuffer> pieces, int size) {
    PieceReader reader = new PieceReader(pieces);
    if (reader.readVarint() != bytesFieldTag) {
      return null;
    }
    long length = reader.readVarint();
    if (length < 0 || length != size - reader.position()) {
      return null;
    }
    int skip = reader.position();
    for (int i = 0; skip > 0; i++) {
      ByteBuffer piece = pieces.get(i);
      int skipped = Math.min(skip, piece.remaining());
      piece.position(piece.position() + skipped);
      skip -= skipped;
    }
    pieces.removeIf(piece -> !piece.hasRemaining());
    return pieces;
  }

  /** Reads the varints at the start of a message, across piece boundaries. */
  private static final class PieceReader {
    private final List<ByteBuffer> pieces;
    private int piece;
    private int offsetInPiece;
    private int position;

    PieceReader(List<ByteBuffer> pieces) {
      this.pieces = pieces;
    }

    /** The next varint, or -1 if the bytes end first or it is longer than 5 bytes. */
    long readVarint() {
      long value = 0;
      for (int shift = 0; shift < 35; shift += 7) {
        int b = readByte();
        if (b < 0) {
          return -1;
        }
        value |= (long) (b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
          return value;
        }
      }
      return -1;
    }

    int position() {
      return position;
    }

    private int readByte() {
      while (piece < pieces.size()) {
        ByteBuffer current = pieces.get(piece);
        if (offsetInPiece < current.remaining()) {
          position++;
          return current.get(current.position() + offsetInPiece++) & 0xFF;
        }
        piece++;
        offsetInPiece = 0;
      }
      return -1;
    }
  }

  private static void closeQuietly(InputStream stream) {
    try {
      stream.close();
    } catch (IOException ignored) {
      // Closing a detached gRPC stream drops reference counts; it does not fail in practice.
    }
  }
}
