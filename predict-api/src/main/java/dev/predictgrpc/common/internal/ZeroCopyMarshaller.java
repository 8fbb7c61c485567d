/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor.PrototypeMarshaller;
import io.grpc.protobuf.ProtoUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A protobuf marshaller that parses large messages made of one {@code bytes} field without copying
 * those bytes out of the transport's buffers: the field of the parsed message is a view of the
 * network buffers gRPC received it in.
 *
 * <p>gRPC's own protobuf marshaller copies every inbound message twice before our code sees it:
 * from the transport's buffers into a scratch array, and from that array into the message's
 * {@code ByteString}. For a 1 MiB chunk of Arrow IPC that is 2 MiB of copying and 1 MiB of
 * garbage per message, and the decoder then copies the bytes a third time into Arrow memory. This
 * marshaller uses the transport's {@link Detachable} and {@link HasByteBuffer} streams (grpc-netty
 * provides both) to take ownership of the received buffers instead, so the Arrow copy is the only
 * one.
 *
 * <p>Only the common shape is parsed by hand: a message that is exactly one occurrence of the
 * chosen field. Anything else (a header message, unknown fields, a field repeated) goes through
 * protobuf's parser, with a copy. Protobuf cannot alias a field that spans several network
 * buffers itself: from 4.x its {@code CodedInputStream} over a list of buffers always copies.
 *
 * <p><b>Ownership.</b> A message parsed without a copy holds the transport's buffers until {@link
 * #release} is called with it. Whoever receives the message must call {@link #release} exactly
 * once, when it no longer needs the message's bytes; forgetting leaks pooled network memory. For
 * a message that was copied (small ones, or on a transport without those streams, such as
 * in-process) {@link #release} does nothing, so callers need not tell the cases apart.
 *
 * <p>Thread-safe: messages may be parsed and released on any threads.
 *
 * @param <T> the message type
 */
public final class ZeroCopyMarshaller<T extends Message> implements PrototypeMarshaller<T> {
  /**
   * Below this size a message is copied as usual: detaching costs a few allocations and a map
   * entry, more than copying a few KiB. Chunks of Arrow batches are far above it.
   */
  static final int MIN_ZERO_COPY_BYTES = 16 << 10;

  private final PrototypeMarshaller<T> copying;
  private final T prototype;
  /** The tag (field number and wire type 2) of the field parsed without a copy. */
  private final int bytesFieldTag;
  /** Builds a message holding only that field. */
  private final Function<ByteString, T> wrap;

  /**
   * The detached transport buffers behind each message parsed without a copy, by identity: the
   * generated messages' equals and hashCode compare and hash the whole content.
   */
  private final Map<T, InputStream> buffersByMessage = new IdentityHashMap<>();

  /**
   * Creates a marshaller for messages of {@code prototype}'s type.
   *
   * @param bytesFieldNumber the {@code bytes} field to parse without a copy
   * @param wrap builds a message with only that field set to the given bytes
   */
  @SuppressWarnings("unchecked") // ProtoUtils declares the supertype of what it returns.
  public ZeroCopyMarshaller(T prototype, int bytesFieldNumber, Function<ByteString, T> wrap) {
    this.prototype = requireNonNull(prototype, "prototype");
    this.copying = (PrototypeMarshaller<T>) ProtoUtils.marshaller(prototype);
    // A protobuf tag is the field number shifted left by 3, or-ed with the wire type.
    this.bytesFieldTag = (bytesFieldNumber << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    this.wrap = requireNonNull(wrap, "wrap");
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
    return copying.stream(value);
  }

  @Override
  public T parse(InputStream stream) {
    if (!canDetach(stream)) {
      return copying.parse(stream);
    }
    InputStream detached = ((Detachable) stream).detach();
    boolean aliased = false;
    try {
      List<ByteBuffer> pieces = readableBuffers(detached);
      T message = parseSingleField(pieces, detached.available());
      if (message == null) {
        // Not the single-field shape: let protobuf parse it, copying. Rare for large messages.
        return copying.parse(detached);
      }
      synchronized (buffersByMessage) {
        buffersByMessage.put(message, detached);
      }
      aliased = true;
      return message;
    } catch (IOException e) {
      throw new UncheckedIOException(e); // The detached stream reads memory; it does no I/O.
    } finally {
      if (!aliased) {
        closeQuietly(detached);
      }
    }
  }

  /**
   * Releases the transport buffers that {@code message}'s bytes are a view of, if it was parsed
   * without a copy. Call it once per parsed message, when its bytes are no longer needed.
   */
  public void release(T message) {
    InputStream buffers;
    synchronized (buffersByMessage) {
      buffers = buffersByMessage.remove(message);
    }
    if (buffers != null) {
      closeQuietly(buffers);
    }
  }

  /** Messages parsed without a copy and not yet released; for tests. */
  public int unreleased() {
    synchronized (buffersByMessage) {
      return buffersByMessage.size();
    }
  }

  private static boolean canDetach(InputStream stream) {
    try {
      return stream instanceof Detachable
          && stream instanceof KnownLength
          && stream instanceof HasByteBuffer
          && ((HasByteBuffer) stream).byteBufferSupported()
          && stream.available() >= MIN_ZERO_COPY_BYTES;
    } catch (IOException e) {
      return false;
    }
  }

  /** Views of the stream's remaining bytes, in order, without consuming or copying them. */
  private static List<ByteBuffer> readableBuffers(InputStream detached) throws IOException {
    // Walking the buffers with skip() would free each one as it is passed; the mark keeps them.
    detached.mark(detached.available());
    List<ByteBuffer> pieces = new ArrayList<>();
    while (detached.available() > 0) {
      ByteBuffer piece = requireNonNull(((HasByteBuffer) detached).getByteBuffer());
      pieces.add(piece);
      detached.skip(piece.remaining());
    }
    detached.reset();
    return pieces;
  }

  /**
   * Parses a message that is exactly one occurrence of the bytes field, aliasing the pieces;
   * returns null for any other shape.
   */
  private @Nullable T parseSingleField(List<ByteBuffer> pieces, int size) {
    PieceReader reader = new PieceReader(pieces);
    long tag = reader.readVarint();
    if (tag != bytesFieldTag) {
      return null;
    }
    long length = reader.readVarint();
    if (length < 0 || length != size - reader.position()) {
      return null;
    }
    List<ByteString> views = new ArrayList<>(pieces.size());
    int skip = reader.position();
    for (ByteBuffer piece : pieces) {
      ByteBuffer view = piece.duplicate();
      int skipped = Math.min(skip, view.remaining());
      view.position(view.position() + skipped);
      skip -= skipped;
      if (view.hasRemaining()) {
        views.add(UnsafeByteOperations.unsafeWrap(view));
      }
    }
    // A rope over the views: concatenation copies nothing but the smallest pieces.
    return wrap.apply(ByteString.copyFrom(views));
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

  private static void closeQuietly(@Nullable InputStream stream) {
    try {
      if (stream != null) {
        stream.close();
      }
    } catch (IOException ignored) {
      // Closing releases reference counts; it does not fail in practice.
    }
  }
}
