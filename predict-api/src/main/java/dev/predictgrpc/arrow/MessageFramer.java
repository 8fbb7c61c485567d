/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Reads the framing in front of each Arrow IPC message body: the length prefix, with or without the
 * continuation token, and the flatbuffer metadata it announces.
 *
 * <p>Both are read a piece at a time, as chunks arrive, and survive being cut anywhere. The framer
 * only assembles bytes; {@link ArrowChunkDecoder} decides what a length or a message means and
 * whether it is within its limits.
 *
 * <p>Not thread-safe; owned by one decoder. Holds heap memory only.
 */
final class MessageFramer {
  private static final int CONTINUATION_TOKEN = 0xFFFFFFFF;

  /**
   * Metadata is buffered in an array that starts this small and doubles as bytes arrive, so an
   * 8-byte prefix announcing a huge length cannot make us allocate that much heap up front.
   */
  private static final int INITIAL_METADATA_BYTES = 4096;

  private final byte[] prefix = new byte[8];
  private int prefixFilled;
  private int prefixNeeded = 4;
  private int prefixLength;
  private boolean prefixHadContinuation;
  private int prefixFirstWord;

  private byte @Nullable [] metadata;
  private int metadataLength;
  private int metadataFilled;

  /**
   * Reads prefix bytes from the queue, which must not be empty. Returns true once a whole prefix
   * has been read; {@link #prefixLength()} then holds the metadata length it announces, unchecked.
   */
  boolean readPrefix(ChunkQueue input) {
    prefixFilled += input.copyTo(prefix, prefixFilled, prefixNeeded - prefixFilled);
    if (prefixFilled < prefixNeeded) {
      return false;
    }
    int first = ByteBuffer.wrap(prefix, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    if (prefixNeeded == 4 && first == CONTINUATION_TOKEN) {
      prefixNeeded = 8;
      return false;
    } else if (prefixNeeded == 8) {
      prefixLength = ByteBuffer.wrap(prefix, 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
      prefixHadContinuation = true;
    } else {
      prefixLength = first; // The pre-1.0 format had no continuation token.
      prefixHadContinuation = false;
    }
    prefixFirstWord = ByteBuffer.wrap(prefix, 0, 4).order(ByteOrder.BIG_ENDIAN).getInt();
    prefixFilled = 0;
    prefixNeeded = 4;
    return true;
  }

  /** The metadata length the last complete prefix announced; may be zero or negative. */
  int prefixLength() {
    return prefixLength;
  }

  /** True if the last complete prefix began with the continuation token, as since Arrow 0.15. */
  boolean prefixHadContinuation() {
    return prefixHadContinuation;
  }

  /** The first four bytes of the last complete prefix, big-endian, to recognise other formats. */
  int prefixFirstWord() {
    return prefixFirstWord;
  }

  /** Heap bytes held for the metadata being assembled. */
  int heldMetadataBytes() {
    return metadata == null ? 0 : metadata.length;
  }

  /** True if part of a prefix has been read, so input that ends now ends inside a message. */
  boolean isInsidePrefix() {
    return prefixFilled > 0;
  }

  /** Starts buffering {@code length} bytes of metadata; the caller has checked the length. */
  void startMetadata(int length) {
    metadataLength = length;
    metadata = new byte[Math.min(length, INITIAL_METADATA_BYTES)];
    metadataFilled = 0;
  }

  /**
   * Reads metadata bytes from the queue, which must not be empty. Returns true once all of it has
   * been read; {@link #metadata()} then holds exactly the metadata.
   */
  boolean readMetadata(ChunkQueue input) {
    if (metadataFilled == metadata.length) {
      metadata = Arrays.copyOf(metadata, (int) Math.min(metadataLength, 2L * metadata.length));
    }
    metadataFilled += input.copyTo(metadata, metadataFilled, metadata.length - metadataFilled);
    return metadataFilled == metadataLength;
  }

  /**
   * The metadata of the current message. Once {@link #readMetadata} has returned true, its length
   * is the announced metadata length, since the array never grows past it.
   */
  byte[] metadata() {
    return metadata;
  }

  /** Drops the current message's metadata, so a large one is not kept until the next. */
  void endMessage() {
    metadata = null;
  }
}
