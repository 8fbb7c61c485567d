/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.StreamHeader;
import io.grpc.Detachable;
import io.grpc.Drainable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link ZeroCopyMarshaller} hands over received bytes without a copy, and lends sent ones. */
class ZeroCopyMarshallerTest {
  private final ZeroCopyMarshaller<PredictStreamRequest> marshaller = StreamMarshallers.requests();

  private static ByteString randomBytes(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }

  private static PredictStreamRequest chunk(ByteString bytes) {
    return PredictStreamRequest.newBuilder().setChunk(bytes).build();
  }

  /** Concatenates views without consuming them. */
  private static ByteString concat(List<ByteBuffer> views) {
    ByteString result = ByteString.EMPTY;
    for (ByteBuffer view : views) {
      result = result.concat(ByteString.copyFrom(view.duplicate()));
    }
    return result;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 4, 5, 4096, 65_536})
  void bigChunk_isHandedOverAsViews_whereverTheBuffersAreCut(int firstPieceBytes) {
    ByteString payload = randomBytes(1 << 20);
    FakeTransportStream wire = FakeTransportStream.of(chunk(payload).toByteArray(), firstPieceBytes);

    PredictStreamRequest parsed = marshaller.parse(wire);

    assertThat(parsed.getKindCase()).isEqualTo(PredictStreamRequest.KindCase.CHUNK);
    assertThat(parsed.getChunk().isEmpty()).isTrue(); // the placeholder
    assertThat(marshaller.untaken()).isEqualTo(1);
    ReceivedBytes received = marshaller.takeBytes(parsed);
    assertThat(received).isNotNull();
    assertThat(marshaller.untaken()).isZero();
    assertThat(concat(received.buffers())).isEqualTo(payload);
    assertThat(received.buffers()).allSatisfy(b -> assertThat(b.isDirect()).isTrue());

    FakeTransportStream detached = wire.detachedCopy;
    assertThat(detached.closed).isFalse();
    received.release();
    received.release();
    assertThat(detached.closeCount).isEqualTo(1);
    assertThat(marshaller.takeBytes(parsed)).isNull();
  }

  @Test
  void views_areTheNetworkBuffersThemselves_notCopies() {
    byte[] wireBytes = chunk(randomBytes(64 << 10)).toByteArray();
    FakeTransportStream wire = FakeTransportStream.of(wireBytes, 1000);
    ReceivedBytes received = marshaller.takeBytes(marshaller.parse(wire));

    ByteBuffer lastPiece = wire.detachedCopy.pieces.get(wire.detachedCopy.pieces.size() - 1);
    lastPiece.put(lastPiece.limit() - 1, (byte) ~lastPiece.get(lastPiece.limit() - 1));

    ByteBuffer lastView = received.buffers().get(received.buffers().size() - 1);
    assertThat(lastView.get(lastView.limit() - 1)).isEqualTo(lastPiece.get(lastPiece.limit() - 1));
    received.release();
  }

  @Test
  void otherShapes_areParsedAsUsual_andTheirBuffersFreedAtOnce() throws Exception {
    ModelSpec bigSpec = ModelSpec.newBuilder().setName("m".repeat(40_000)).build();
    byte[] header =
        PredictStreamRequest.newBuilder()
            .setHeader(StreamHeader.newBuilder().setModel(bigSpec))
            .build()
            .toByteArray();
    ByteString payload = randomBytes(32 << 10);
    byte[] twoChunkFields = concatBytes(chunk(randomBytes(20_000)).toByteArray(),
        chunk(payload).toByteArray()); // the last occurrence of a oneof field wins
    byte[] unknownFieldAfter = concatBytes(chunk(payload).toByteArray(), new byte[] {0x78, 0x01});

    for (byte[] message : List.of(header, twoChunkFields, unknownFieldAfter)) {
      FakeTransportStream wire = FakeTransportStream.of(message, 7);
      PredictStreamRequest parsed = marshaller.parse(wire);

      assertThat(parsed).isEqualTo(PredictStreamRequest.parseFrom(message));
      assertThat(marshaller.takeBytes(parsed)).isNull();
      assertThat(wire.detachedCopy.closed).isTrue();
    }
    assertThat(marshaller.untaken()).isZero();
  }

  @Test
  void smallMessages_andPlainStreams_areCopied() throws Exception {
    byte[] small = chunk(randomBytes(1000)).toByteArray();
    FakeTransportStream wire = FakeTransportStream.of(small, 10);
    assertThat(marshaller.parse(wire)).isEqualTo(PredictStreamRequest.parseFrom(small));
    assertThat(wire.detachedCopy).isNull();

    byte[] big = chunk(randomBytes(100_000)).toByteArray();
    PredictStreamRequest parsed = marshaller.parse(new ByteArrayInputStream(big));
    assertThat(parsed).isEqualTo(PredictStreamRequest.parseFrom(big));
    assertThat(marshaller.takeBytes(parsed)).isNull();
  }

  @Test
  void discard_releasesBytesNobodyTook() {
    FakeTransportStream wire = FakeTransportStream.of(chunk(randomBytes(50_000)).toByteArray(), 3);
    PredictStreamRequest parsed = marshaller.parse(wire);

    marshaller.discard(parsed);
    marshaller.discard(parsed);

    assertThat(wire.detachedCopy.closeCount).isEqualTo(1);
    assertThat(marshaller.untaken()).isZero();
  }

  @Test
  void lentMessage_isGivenBackWhenGrpcClosesItsStream() throws IOException {
    PredictStreamRequest message = chunk(randomBytes(10_000));
    AtomicInteger released = new AtomicInteger();
    List<InputStream> streams = new ArrayList<>();

    marshaller.sendLent(message, released::incrementAndGet, () -> {
      streams.add(marshaller.stream(message));
      streams.add(marshaller.stream(message)); // a second serialization is not lent
    });

    assertThat(released).hasValue(0);
    InputStream lent = streams.get(0);
    assertThat(lent).isInstanceOf(Drainable.class).isInstanceOf(KnownLength.class);
    assertThat(lent.available()).isEqualTo(message.getSerializedSize());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ((Drainable) lent).drainTo(out);
    assertThat(out.toByteArray()).isEqualTo(message.toByteArray());
    lent.close();
    lent.close();
    streams.get(1).close();
    assertThat(released).hasValue(1);
  }

  @Test
  void lentMessage_thatGrpcNeverSerialized_isGivenBackAtOnce() {
    AtomicInteger released = new AtomicInteger();
    PredictStreamRequest message = chunk(randomBytes(100));

    marshaller.sendLent(message, released::incrementAndGet, () -> {});
    assertThat(released).hasValue(1);

    // Outside sendLent, stream() lends nothing.
    marshaller.stream(message);
    assertThat(released).hasValue(1);
  }

  private static byte[] concatBytes(byte[] a, byte[] b) {
    byte[] result = new byte[a.length + b.length];
    System.arraycopy(a, 0, result, 0, a.length);
    System.arraycopy(b, 0, result, a.length, b.length);
    return result;
  }

  /**
   * A message as gRPC's Netty transport hands it over: direct buffers behind a stream that can be
   * detached, read as ByteBuffers, and marked; closing it frees the buffers.
   */
  static final class FakeTransportStream extends InputStream
      implements Detachable, HasByteBuffer, KnownLength {
    final List<ByteBuffer> pieces;
    int piece;
    int markPiece;
    int markOffset;
    boolean closed;
    int closeCount;
    FakeTransportStream detachedCopy;

    private FakeTransportStream(List<ByteBuffer> pieces) {
      this.pieces = pieces;
    }

    /** Splits {@code bytes} into direct pieces: the first of {@code firstPiece}, then 8 KiB. */
    static FakeTransportStream of(byte[] bytes, int firstPiece) {
      List<ByteBuffer> pieces = new ArrayList<>();
      int at = 0;
      int size = firstPiece;
      while (at < bytes.length) {
        int n = Math.min(size, bytes.length - at);
        ByteBuffer direct = ByteBuffer.allocateDirect(n);
        direct.put(bytes, at, n).flip();
        pieces.add(direct);
        at += n;
        size = 8192;
      }
      return new FakeTransportStream(pieces);
    }

    @Override
    public InputStream detach() {
      detachedCopy = new FakeTransportStream(new ArrayList<>(pieces.subList(piece, pieces.size())));
      pieces.clear();
      piece = 0;
      return detachedCopy;
    }

    @Override
    public boolean byteBufferSupported() {
      return true;
    }

    @Override
    public ByteBuffer getByteBuffer() {
      return piece < pieces.size() ? pieces.get(piece).duplicate() : null;
    }

    @Override
    public int available() {
      int n = 0;
      for (int i = piece; i < pieces.size(); i++) {
        n += pieces.get(i).remaining();
      }
      return n;
    }

    @Override
    public int read() {
      while (piece < pieces.size()) {
        ByteBuffer current = pieces.get(piece);
        if (current.hasRemaining()) {
          return current.get() & 0xFF;
        }
        piece++;
      }
      return -1;
    }

    @Override
    public long skip(long n) {
      long skipped = 0;
      while (skipped < n && piece < pieces.size()) {
        ByteBuffer current = pieces.get(piece);
        int step = (int) Math.min(n - skipped, current.remaining());
        current.position(current.position() + step);
        skipped += step;
        if (!current.hasRemaining()) {
          piece++;
        }
      }
      return skipped;
    }

    @Override
    public boolean markSupported() {
      return true;
    }

    @Override
    public void mark(int readLimit) {
      markPiece = piece;
      markOffset = piece < pieces.size() ? pieces.get(piece).position() : 0;
      for (int i = piece + 1; i < pieces.size(); i++) {
        pieces.get(i).mark();
      }
    }

    @Override
    public void reset() {
      for (int i = markPiece + 1; i < pieces.size(); i++) {
        pieces.get(i).reset();
      }
      piece = markPiece;
      if (piece < pieces.size()) {
        pieces.get(piece).position(markOffset);
      }
    }

    @Override
    public void close() {
      closed = true;
      closeCount++;
    }
  }
}
