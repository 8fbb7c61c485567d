/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.api.v1.StreamResponseHeader;
import io.grpc.Detachable;
import io.grpc.Drainable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ZeroCopyMarshaller} over a stand-in for gRPC's Netty transport streams: a large message
 * that is one chunk arrives as views of the network buffers, handed over by {@link
 * ZeroCopyMarshaller#takeBytes} and valid until released; every other shape parses exactly as
 * protobuf parses it, with a copy; and every buffer detached from the transport is closed exactly
 * once, whatever happens. Also {@link ZeroCopyMarshaller#sendLent}: a lent message's release runs
 * exactly once, when gRPC closes the stream it serialized the message into.
 */
class ZeroCopyMarshallerTest {
  private static final int MIB = 1 << 20;
  private static final int MIN = ZeroCopyMarshaller.MIN_ZERO_COPY_BYTES;

  /** The wire size of a request with a 1 MiB chunk: tag (1 byte), length (3 bytes), chunk. */
  private static final int MIB_MESSAGE = 1 + 3 + MIB;

  private final Transport transport = new Transport();
  private final ZeroCopyMarshaller<PredictStreamRequest> requests = StreamMarshallers.requests();

  // ---------------------------------------------------------------------------------------------
  // Large single-chunk messages: views of the network buffers.

  /** Ways to cut a 1 MiB chunk message into network buffers. */
  static Stream<Arguments> largeChunkSplits() {
    return Stream.of(
        split("one buffer"),
        split("after the tag", 1),
        split("after the length's first byte", 2),
        split("before the length's last byte", 3),
        split("at the first chunk byte", 4),
        split("every prefix byte apart", 1, 2, 3, 4),
        split("8 KiB buffers, length cut", concat(new int[] {2}, every(8192, MIB_MESSAGE))),
        split("random buffers, length cut", concat(new int[] {3}, randomCuts(1, 3, 200, 40_000))),
        split("empty buffers among them", 0, 0, 2, 2, 2, 4, 70_000, 70_000, MIB_MESSAGE),
        split(
            "byte by byte through the prefix, then 1 to 300 bytes",
            concat(IntStream.rangeClosed(1, 40).toArray(), randomCuts(2, 40, 1, 300))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("largeChunkSplits")
  void largeChunk_arrivesAsViewsOfTheNetworkBuffers_untilReleased(int[] cuts) {
    byte[] data = randomBytes(MIB, 1);
    byte[] wire = chunkRequest(data);
    assertThat(wire).hasSize(MIB_MESSAGE);
    TransportStream received = transport.stream(wire, cuts);
    NetworkBuffers network = received.buffers();

    PredictStreamRequest parsed = requests.parse(received);

    // The message stands for the chunk: its chunk field is set, to the empty string.
    assertThat(parsed.getKindCase()).isEqualTo(PredictStreamRequest.KindCase.CHUNK);
    assertThat(parsed.getChunk().isEmpty()).isTrue();
    assertThat(requests.untaken()).isEqualTo(1);
    ReceivedBytes bytes = requests.takeBytes(parsed);
    assertThat(bytes).isNotNull();
    assertThat(requests.untaken()).isZero();
    assertThat(requests.takeBytes(parsed)).as("taken once").isNull();
    assertThat(contentOf(bytes)).isEqualTo(ByteString.copyFrom(data));
    assertThat(bytes.buffers())
        .allSatisfy(view -> assertThat(view.isDirect()).as("network memory, not a copy").isTrue());
    // No copy: rewriting the network buffers in place rewrites every byte of the views.
    byte[] rewritten = wire.clone();
    for (int i = 4; i < rewritten.length; i++) {
      rewritten[i] ^= 0x5A;
    }
    network.write(rewritten);
    assertThat(contentOf(bytes)).isEqualTo(ByteString.copyFrom(rewritten, 4, MIB));
    // The marshaller took the buffers over; gRPC's stream is left empty, for gRPC to close.
    assertThat(received.available()).isZero();
    assertThat(received.closes()).isZero();
    requests.discard(parsed); // Taken already: discarding must not free what the taker holds.
    assertThat(transport.detached).singleElement().satisfies(d -> assertThat(d.closes()).isZero());

    bytes.release();
    bytes.release();

    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  @Test
  void responses_largeChunkArrivesAsViewsOfTheNetworkBuffers() {
    ZeroCopyMarshaller<PredictStreamResponse> responses = StreamMarshallers.responses();
    byte[] data = randomBytes(MIB, 4);
    byte[] wire =
        PredictStreamResponse.newBuilder()
            .setChunk(ByteString.copyFrom(data))
            .build()
            .toByteArray();
    TransportStream received =
        transport.stream(wire, concat(new int[] {3}, every(16384, wire.length)));
    NetworkBuffers network = received.buffers();

    PredictStreamResponse parsed = responses.parse(received);

    assertThat(parsed.getKindCase()).isEqualTo(PredictStreamResponse.KindCase.CHUNK);
    assertThat(parsed.getChunk().isEmpty()).isTrue();
    ReceivedBytes bytes = responses.takeBytes(parsed);
    assertThat(bytes).isNotNull();
    assertThat(contentOf(bytes)).isEqualTo(ByteString.copyFrom(data));
    network.write(new byte[wire.length]); // All zeros, the prefix included.
    assertThat(contentOf(bytes)).isEqualTo(ByteString.copyFrom(new byte[MIB]));
    bytes.release();
    assertThat(responses.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  @Test
  void discard_releasesUntakenBytesOnce_andAgainIsANoOp() {
    PredictStreamRequest parsed =
        requests.parse(transport.stream(chunkRequest(randomBytes(MIN, 5))));
    TransportStream detached = transport.detached.peek();
    assertThat(detached.closes()).isZero();

    requests.discard(parsed);
    requests.discard(parsed);

    assertThat(detached.closes()).isEqualTo(1);
    assertThat(requests.untaken()).isZero();
    assertThat(requests.takeBytes(parsed)).isNull();
  }

  @Test
  void takeBytes_goesByIdentity_notByEqualContent() {
    byte[] data = randomBytes(100_000, 6);
    byte[] wire = chunkRequest(data);
    PredictStreamRequest first = requests.parse(transport.stream(wire, 50_000));
    PredictStreamRequest second = requests.parse(transport.stream(wire, 3, 50_000));
    // Every placeholder is alike, and like a message with an empty chunk.
    PredictStreamRequest lookalike = chunkMessage(ByteString.EMPTY);
    assertThat(first).isEqualTo(second).isEqualTo(lookalike).isNotSameAs(second);
    assertThat(requests.untaken()).isEqualTo(2);

    assertThat(requests.takeBytes(lookalike)).isNull();
    requests.discard(lookalike);
    requests.discard(PredictStreamRequest.getDefaultInstance());

    assertThat(requests.untaken()).isEqualTo(2);
    assertThat(transport.detached).allSatisfy(d -> assertThat(d.closes()).isZero());

    requests.discard(second);

    assertThat(requests.untaken()).isEqualTo(1);
    List<TransportStream> detached = new ArrayList<>(transport.detached);
    assertThat(detached.get(0).closes()).as("first's buffers").isZero();
    assertThat(detached.get(1).closes()).as("second's buffers").isEqualTo(1);
    // The first message's bytes are its own, still unreleased buffers.
    ReceivedBytes bytes = requests.takeBytes(first);
    assertThat(contentOf(bytes)).isEqualTo(ByteString.copyFrom(data));
    bytes.release();
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(2);
  }

  @Test
  void discard_byAnotherMarshaller_isANoOp() {
    ZeroCopyMarshaller<PredictStreamRequest> other = StreamMarshallers.requests();
    PredictStreamRequest parsed =
        requests.parse(transport.stream(chunkRequest(randomBytes(MIN, 7))));

    assertThat(other.takeBytes(parsed)).isNull();
    other.discard(parsed);

    assertThat(requests.untaken()).isEqualTo(1);
    assertThat(other.untaken()).isZero();
    assertThat(transport.detached.peek().closes()).isZero();
    requests.discard(parsed);
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  @Test
  void copiedMessage_hasNoBytesToTake_andDiscardIsANoOp() {
    byte[] wire = chunkRequest(randomBytes(100, 8));
    PredictStreamRequest parsed = requests.parse(transport.stream(wire));
    assertThat(requests.untaken()).isZero();

    assertThat(requests.takeBytes(parsed)).isNull();
    requests.discard(parsed);
    requests.discard(parsed);

    assertThat(parsed).isEqualTo(parseWithProtobuf(wire));
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(transport.detached.size());
  }

  // ---------------------------------------------------------------------------------------------
  // Everything else: parsed like protobuf, copied, buffers closed at once.

  @Test
  void sizeThreshold_isMinZeroCopyBytes() {
    // A chunk of n < 16384 bytes has a 2-byte length: the message is n + 3 bytes.
    byte[] justBelow = chunkRequest(randomBytes(MIN - 4, 9));
    byte[] atThreshold = chunkRequest(randomBytes(MIN - 3, 10));
    assertThat(justBelow).hasSize(MIN - 1);
    assertThat(atThreshold).hasSize(MIN);

    PredictStreamRequest copied = requests.parse(transport.stream(justBelow, 2));
    assertThat(requests.untaken()).isZero();
    PredictStreamRequest received = requests.parse(transport.stream(atThreshold, 2));
    assertThat(requests.untaken()).isEqualTo(1);

    assertThat(copied).isEqualTo(parseWithProtobuf(justBelow));
    assertThat(requests.takeBytes(copied)).isNull();
    assertThat(receive(requests, received, ZeroCopyMarshallerTest::withChunk))
        .isEqualTo(parseWithProtobuf(atThreshold));
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  /** Messages under {@link ZeroCopyMarshaller#MIN_ZERO_COPY_BYTES}. */
  static Stream<Arguments> smallMessages() {
    return Stream.of(
        Arguments.of(Named.of("empty message", new byte[0])),
        Arguments.of(Named.of("empty chunk", wire(out -> out.writeBytes(2, ByteString.EMPTY)))),
        Arguments.of(Named.of("one-byte chunk", chunkRequest(new byte[] {42}))),
        Arguments.of(Named.of("10 KiB chunk", chunkRequest(randomBytes(10 << 10, 11)))),
        Arguments.of(Named.of("header", header(100).toByteArray())),
        Arguments.of(
            Named.of(
                "chunk and unknown field",
                wire(
                    out -> {
                      out.writeBytes(2, ByteString.copyFrom(randomBytes(5000, 12)));
                      out.writeUInt64(15, 7);
                    }))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("smallMessages")
  void smallMessage_isCopiedAndParsedLikeProtobuf(byte[] wire) {
    TransportStream received = transport.stream(wire, prefixCuts(wire.length));

    PredictStreamRequest parsed = requests.parse(received);
    // gRPC closes its stream after parse returns; pooled memory is then reused.
    received.close();

    assertThat(parsed).isEqualTo(parseWithProtobuf(wire));
    assertThat(requests.takeBytes(parsed)).isNull();
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(transport.detached.size());
  }

  /** Messages over the threshold that are not exactly one chunk field, or not parsed as such. */
  static Stream<Arguments> otherLargeShapes() {
    ByteString data = ByteString.copyFrom(randomBytes(20 << 10, 13));
    ByteString half = ByteString.copyFrom(randomBytes(10 << 10, 14));
    StreamHeader header = header(10).getHeader();
    return Stream.of(
        Arguments.of(Named.of("large header", header(20 << 10).toByteArray())),
        Arguments.of(
            Named.of(
                "chunk, then an unknown field",
                wire(
                    out -> {
                      out.writeBytes(2, data);
                      out.writeUInt64(15, 42);
                    }))),
        Arguments.of(
            Named.of(
                "unknown field, then chunk",
                wire(
                    out -> {
                      out.writeUInt64(15, 42);
                      out.writeBytes(2, data);
                    }))),
        Arguments.of(
            Named.of(
                "chunk, then an empty unknown bytes field",
                wire(
                    out -> {
                      out.writeBytes(2, data);
                      out.writeBytes(5, ByteString.EMPTY);
                    }))),
        Arguments.of(
            Named.of(
                "chunk repeated (the last wins)",
                wire(
                    out -> {
                      out.writeBytes(2, half);
                      out.writeBytes(2, data);
                    }))),
        Arguments.of(
            Named.of(
                "header, then chunk (oneof: chunk wins)",
                wire(
                    out -> {
                      out.writeMessage(1, header);
                      out.writeBytes(2, data);
                    }))),
        Arguments.of(
            Named.of(
                "chunk, then header (oneof: header wins)",
                wire(
                    out -> {
                      out.writeBytes(2, data);
                      out.writeMessage(1, header);
                    }))),
        Arguments.of(
            Named.of(
                "chunk's field number with the varint wire type, then chunk",
                wire(
                    out -> {
                      out.writeUInt64(2, 7);
                      out.writeBytes(2, data);
                    }))),
        Arguments.of(Named.of("unknown bytes field only", wire(out -> out.writeBytes(3, data)))),
        Arguments.of(
            Named.of(
                "over 4 MiB: chunk, then an unknown field",
                wire(
                    out -> {
                      out.writeBytes(2, ByteString.copyFrom(randomBytes(4 * MIB + 10, 15)));
                      out.writeUInt64(15, 1);
                    }))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("otherLargeShapes")
  void otherShape_isCopiedParsedLikeProtobuf_andItsBuffersClosedAtOnce(byte[] wire) {
    assertThat(wire.length).isGreaterThanOrEqualTo(MIN);
    TransportStream received = transport.stream(wire, prefixCuts(wire.length));

    PredictStreamRequest parsed = requests.parse(received);

    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(1);
    // Closing overwrote the buffers, so this also shows the message holds a copy.
    assertThat(parsed).isEqualTo(parseWithProtobuf(wire));
    assertThat(requests.takeBytes(parsed)).isNull();
    requests.discard(parsed);
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  /** Unusual but valid encodings of a chunk; either path may take them. */
  static Stream<Arguments> unusualEncodings() {
    byte[] data = randomBytes(20 << 10, 16);
    int n = data.length; // Needs 3 varint bytes: 20480 >= 2^14.
    byte[] length3 = {(byte) (n | 0x80), (byte) ((n >>> 7) | 0x80), (byte) (n >>> 14)};
    return Stream.of(
        Arguments.of(
            Named.of("tag in two bytes", bytes(new byte[] {(byte) 0x92, 0x00}, length3, data))),
        Arguments.of(
            Named.of(
                "tag in six bytes",
                bytes(
                    new byte[] {(byte) 0x92, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0},
                    length3,
                    data))),
        Arguments.of(
            Named.of(
                "length padded to five bytes",
                bytes(
                    new byte[] {0x12},
                    new byte[] {
                      (byte) (n | 0x80),
                      (byte) ((n >>> 7) | 0x80),
                      (byte) ((n >>> 14) | 0x80),
                      (byte) 0x80,
                      0
                    },
                    data))),
        Arguments.of(
            Named.of(
                "length with a bit above 32 (protobuf drops it)",
                bytes(
                    new byte[] {0x12},
                    new byte[] {
                      (byte) (n | 0x80),
                      (byte) ((n >>> 7) | 0x80),
                      (byte) ((n >>> 14) | 0x80),
                      (byte) 0x80,
                      0x10
                    },
                    data))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unusualEncodings")
  void unusualEncoding_isReceivedLikeProtobufParsesIt_andReleasesItsBuffers(byte[] wire) {
    PredictStreamRequest expected = parseWithProtobuf(wire);

    PredictStreamRequest parsed = requests.parse(transport.stream(wire, prefixCuts(wire.length)));

    assertThat(receive(requests, parsed, ZeroCopyMarshallerTest::withChunk)).isEqualTo(expected);
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  @Test
  void notDetachableStream_isParsedByCopying() {
    byte[] wire = chunkRequest(randomBytes(MIB, 17));

    PredictStreamRequest parsed = requests.parse(new ByteArrayInputStream(wire));

    assertThat(parsed).isEqualTo(parseWithProtobuf(wire));
    assertThat(requests.takeBytes(parsed)).isNull();
    assertThat(requests.untaken()).isZero();
  }

  @Test
  void streamWithoutByteBufferSupport_isParsedByCopying_withoutDetaching() {
    byte[] wire = chunkRequest(randomBytes(MIB, 18));
    TransportStream received = transport.streamWithoutByteBuffers(wire, 3, 100_000);

    PredictStreamRequest parsed = requests.parse(received);
    received.close(); // As gRPC does after parse; the memory is then reused.

    assertThat(transport.detached).isEmpty();
    assertThat(requests.untaken()).isZero();
    assertThat(parsed).isEqualTo(parseWithProtobuf(wire));
    assertThat(requests.takeBytes(parsed)).isNull();
  }

  // ---------------------------------------------------------------------------------------------
  // Malformed input.

  static Stream<Arguments> malformedMessages() {
    byte[] valid = chunkRequest(randomBytes(64 << 10, 19));
    byte[] data = randomBytes(20 << 10, 20);
    byte[] ones = new byte[20 << 10];
    Arrays.fill(ones, (byte) 0xFF);
    return Stream.of(
        Arguments.of(Named.of("truncated chunk", Arrays.copyOf(valid, valid.length - 100))),
        Arguments.of(
            Named.of(
                "length beyond the message",
                bytes(new byte[] {0x12, (byte) 0x80, (byte) 0x80, 0x40}, data))),
        Arguments.of(Named.of("zero tag", bytes(new byte[] {0}, data))),
        Arguments.of(Named.of("chunk, then a zero tag", bytes(valid, new byte[] {0}))),
        Arguments.of(Named.of("varint longer than ten bytes", ones)),
        Arguments.of(Named.of("end-group tag", bytes(new byte[] {0x14}, data))),
        Arguments.of(Named.of("small and truncated", Arrays.copyOf(valid, 100))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformedMessages")
  void malformedMessage_failsLikeGrpc_andLeavesNothingUnreleased(byte[] wire) {
    assertThatThrownBy(() -> parseWithProtobuf(wire))
        .hasCauseInstanceOf(InvalidProtocolBufferException.class);

    Throwable thrown =
        catchThrowable(() -> requests.parse(transport.stream(wire, prefixCuts(wire.length))));

    assertThat(thrown).isInstanceOf(StatusRuntimeException.class);
    assertThat(Status.fromThrowable(thrown).getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(requests.untaken()).isZero();
    transport.assertEveryDetachedStreamClosedOnce(wire.length >= MIN ? 1 : 0);
  }

  @Test
  void malformedMessage_onAStreamThatCannotBeDetached_failsLikeGrpc() {
    byte[] wire = Arrays.copyOf(chunkRequest(randomBytes(64 << 10, 21)), 50_000);

    assertThatThrownBy(() -> requests.parse(new ByteArrayInputStream(wire)))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(requests.untaken()).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // Round trips and the method descriptor.

  @Test
  void requests_roundTrip() throws IOException {
    for (PredictStreamRequest message :
        List.of(
            header(50),
            header(30_000),
            chunkMessage(ByteString.copyFrom(randomBytes(10, 22))),
            chunkMessage(ByteString.copyFrom(randomBytes(MIB, 23))),
            PredictStreamRequest.getDefaultInstance())) {
      assertRoundTrips(
          requests,
          message,
          PredictStreamRequest.parser()::parseFrom,
          ZeroCopyMarshallerTest::withChunk);
    }
    // The two messages of 16 KiB or more: the large header (copied) and the large chunk.
    transport.assertEveryDetachedStreamClosedOnce(2);
  }

  @Test
  void responses_roundTrip() throws IOException {
    ZeroCopyMarshaller<PredictStreamResponse> responses = StreamMarshallers.responses();
    for (PredictStreamResponse message :
        List.of(
            PredictStreamResponse.newBuilder()
                .setHeader(
                    StreamResponseHeader.newBuilder()
                        .setModel(ModelSpec.newBuilder().setName("m").setVersion("3")))
                .build(),
            PredictStreamResponse.newBuilder()
                .setChunk(ByteString.copyFrom(randomBytes(100, 24)))
                .build(),
            PredictStreamResponse.newBuilder()
                .setChunk(ByteString.copyFrom(randomBytes(MIB, 25)))
                .build())) {
      assertRoundTrips(
          responses,
          message,
          PredictStreamResponse.parser()::parseFrom,
          (m, chunk) -> m.toBuilder().setChunk(chunk).build());
    }
    transport.assertEveryDetachedStreamClosedOnce(1);
  }

  @Test
  void marshallers_describeTheirMessages() {
    ZeroCopyMarshaller<PredictStreamResponse> responses = StreamMarshallers.responses();

    assertThat(requests.getMessageClass()).isEqualTo(PredictStreamRequest.class);
    assertThat(requests.getMessagePrototype()).isSameAs(PredictStreamRequest.getDefaultInstance());
    assertThat(responses.getMessageClass()).isEqualTo(PredictStreamResponse.class);
    assertThat(responses.getMessagePrototype())
        .isSameAs(PredictStreamResponse.getDefaultInstance());
    assertThat(StreamMarshallers.requests()).isNotSameAs(requests);
  }

  @Test
  void predictStream_isTheGeneratedMethodWithTheGivenMarshallers() {
    ZeroCopyMarshaller<PredictStreamResponse> responses = StreamMarshallers.responses();
    MethodDescriptor<PredictStreamRequest, PredictStreamResponse> generated =
        PredictionServiceGrpc.getPredictStreamMethod();

    MethodDescriptor<PredictStreamRequest, PredictStreamResponse> method =
        StreamMarshallers.predictStream(requests, responses);

    assertThat(method.getFullMethodName()).isEqualTo(generated.getFullMethodName());
    assertThat(method.getType()).isEqualTo(MethodDescriptor.MethodType.BIDI_STREAMING);
    assertThat(method.getRequestMarshaller()).isSameAs(requests);
    assertThat(method.getResponseMarshaller()).isSameAs(responses);
  }

  // ---------------------------------------------------------------------------------------------
  // Lent messages.

  @Test
  void sendLent_releasesOnceGrpcClosesTheStreamItSerializedTheMessageInto() throws IOException {
    PredictStreamRequest message = chunkMessage(ByteString.copyFrom(randomBytes(50_000, 27)));
    Counter release = new Counter();
    AtomicReference<InputStream> serialized = new AtomicReference<>();

    requests.sendLent(message, release, () -> serialized.set(requests.stream(message)));

    assertThat(release.runs()).as("gRPC still holds the stream").isZero();
    InputStream stream = serialized.get();
    assertThat(stream).isInstanceOf(Drainable.class).isInstanceOf(KnownLength.class);
    assertThat(stream.available()).isEqualTo(message.getSerializedSize());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ((Drainable) stream).drainTo(out);
    assertThat(out.toByteArray()).isEqualTo(message.toByteArray());
    assertThat(release.runs()).isZero();
    stream.close();
    assertThat(release.runs()).isEqualTo(1);
    stream.close();
    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void sendLent_lentStreamReadsTheMessage() throws IOException {
    PredictStreamRequest message = chunkMessage(ByteString.copyFrom(randomBytes(1000, 28)));
    Counter release = new Counter();
    AtomicReference<InputStream> serialized = new AtomicReference<>();
    requests.sendLent(message, release, () -> serialized.set(requests.stream(message)));

    try (InputStream stream = serialized.get()) {
      // In-process, the receiver parses the stream itself, and must get a copy.
      PredictStreamRequest parsed = requests.parse(stream);
      assertThat(parsed).isEqualTo(message);
    }

    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void sendLent_releasesAtOnce_ifSendDidNotSerializeTheMessage() {
    PredictStreamRequest message = chunkMessage(ByteString.copyFromUtf8("dropped"));
    Counter release = new Counter();

    requests.sendLent(message, release, () -> {});

    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void sendLent_releasesAtOnce_ifSendThrows() {
    PredictStreamRequest message = chunkMessage(ByteString.copyFromUtf8("refused"));
    Counter release = new Counter();

    assertThatThrownBy(
            () ->
                requests.sendLent(
                    message,
                    release,
                    () -> {
                      throw new IllegalStateException("call is closed");
                    }))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("call is closed");

    assertThat(release.runs()).isEqualTo(1);
  }

  @Test
  void sendLent_lendsOnlyThatMessage_once_onThatThread() throws Exception {
    PredictStreamRequest message = chunkMessage(ByteString.copyFromUtf8("lent"));
    PredictStreamRequest other = chunkMessage(ByteString.copyFromUtf8("lent"));
    Counter release = new Counter();
    List<InputStream> plain = new ArrayList<>();
    AtomicReference<InputStream> lent = new AtomicReference<>();

    requests.sendLent(
        message,
        release,
        () -> {
          plain.add(requests.stream(other)); // Equal, but another message.
          Thread thread = new Thread(() -> plain.add(requests.stream(message)));
          thread.start();
          try {
            thread.join();
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
          lent.set(requests.stream(message));
          plain.add(requests.stream(message)); // Serialized a second time: not lent again.
        });
    for (InputStream stream : plain) {
      stream.close();
    }

    assertThat(plain).hasSize(3);
    assertThat(release.runs()).isZero();
    lent.get().close();
    assertThat(release.runs()).isEqualTo(1);
    // After sendLent returns, the message is no longer lent.
    requests.stream(message).close();
    assertThat(release.runs()).isEqualTo(1);
  }

  // ---------------------------------------------------------------------------------------------
  // Concurrency.

  @Test
  void concurrentParses_takesAndReleases_leaveNothingUntakenOrOpen() throws Exception {
    int threads = 8;
    int perThread = 40;
    byte[] pool = randomBytes(64 << 10, 26);
    Queue<Object> handedOver = new ConcurrentLinkedQueue<>();
    AtomicInteger large = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService executor = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        results.add(
            executor.submit(
                () -> {
                  start.await();
                  Random random = new Random(thread);
                  for (int i = 0; i < perThread; i++) {
                    // Mostly zero-copy sizes; some small, some with an extra field (copied).
                    int size = 1000 + random.nextInt(40 << 10);
                    int from = random.nextInt(pool.length - size);
                    ByteString data = ByteString.copyFrom(pool, from, size);
                    byte[] wire =
                        i % 7 == 3
                            ? wire(
                                out -> {
                                  out.writeBytes(2, data);
                                  out.writeUInt32(9, 1);
                                })
                            : chunkMessage(data).toByteArray();
                    if (wire.length >= MIN) {
                      large.incrementAndGet();
                    }
                    PredictStreamRequest parsed =
                        requests.parse(transport.stream(wire, randomCuts(random, wire.length)));
                    // Received bytes are released, and messages discarded, by whichever thread
                    // comes next: on this one, or on another.
                    switch (random.nextInt(4)) {
                      case 0 -> handedOver.add(parsed);
                      case 1 -> requests.discard(parsed);
                      default -> {
                        ReceivedBytes bytes = requests.takeBytes(parsed);
                        if (bytes == null) {
                          assertThat(parsed.getChunk()).isEqualTo(data);
                        } else {
                          assertThat(contentOf(bytes)).isEqualTo(data);
                          if (random.nextBoolean()) {
                            handedOver.add(bytes);
                          } else {
                            bytes.release();
                          }
                        }
                      }
                    }
                    Object next = handedOver.poll();
                    if (next != null) {
                      releaseOrDiscard(next);
                    }
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> result : results) {
        result.get(30, TimeUnit.SECONDS);
      }
    } finally {
      executor.shutdownNow();
    }
    for (Object left = handedOver.poll(); left != null; left = handedOver.poll()) {
      releaseOrDiscard(left);
    }

    assertThat(requests.untaken()).isZero();
    assertThat(large.get()).isGreaterThan(threads * perThread / 2);
    transport.assertEveryDetachedStreamClosedOnce(large.get());
  }

  private void releaseOrDiscard(Object handedOver) {
    if (handedOver instanceof ReceivedBytes bytes) {
      bytes.release();
    } else {
      requests.discard((PredictStreamRequest) handedOver);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers.

  /**
   * Round trips {@code message}: serialized, parsed straight back as the in-process transport does,
   * and parsed from the network's buffers, its bytes taken as a receiver takes them.
   */
  private <T extends com.google.protobuf.Message> void assertRoundTrips(
      ZeroCopyMarshaller<T> marshaller,
      T message,
      ProtobufParser<T> protobuf,
      BiFunction<T, ByteString, T> withChunk)
      throws IOException {
    byte[] wire;
    try (InputStream out = marshaller.stream(message)) {
      wire = out.readAllBytes();
    }
    assertThat(wire).isEqualTo(message.toByteArray());
    assertThat(protobuf.parse(wire)).isEqualTo(message);
    T direct = marshaller.parse(marshaller.stream(message));
    assertThat(receive(marshaller, direct, withChunk)).isEqualTo(message);
    T received = marshaller.parse(transport.stream(wire, prefixCuts(wire.length)));
    assertThat(receive(marshaller, received, withChunk)).isEqualTo(message);
    assertThat(marshaller.untaken()).isZero();
  }

  /**
   * What a receiver makes of a parsed message: if its bytes arrived beside it, the message with
   * those bytes (copied) put back in, and the bytes released; else the message itself.
   */
  private static <T extends com.google.protobuf.Message> T receive(
      ZeroCopyMarshaller<T> marshaller, T parsed, BiFunction<T, ByteString, T> withChunk) {
    ReceivedBytes bytes = marshaller.takeBytes(parsed);
    if (bytes == null) {
      return parsed;
    }
    try {
      return withChunk.apply(parsed, contentOf(bytes));
    } finally {
      bytes.release();
    }
  }

  /** A copy of the bytes the views hold, read without moving their positions. */
  static ByteString contentOf(ReceivedBytes bytes) {
    ByteString.Output out = ByteString.newOutput();
    for (ByteBuffer view : bytes.buffers()) {
      ByteBuffer copy = view.duplicate();
      byte[] piece = new byte[copy.remaining()];
      copy.get(piece);
      out.write(piece, 0, piece.length);
    }
    return out.toByteString();
  }

  private static PredictStreamRequest withChunk(PredictStreamRequest message, ByteString chunk) {
    return message.toBuilder().setChunk(chunk).build();
  }

  /** Counts how often a release action ran. */
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

  private interface ProtobufParser<T> {
    T parse(byte[] wire) throws InvalidProtocolBufferException;
  }

  private static PredictStreamRequest parseWithProtobuf(byte[] wire) {
    try {
      return PredictStreamRequest.parseFrom(wire);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a valid PredictStreamRequest", e);
    }
  }

  private static PredictStreamRequest chunkMessage(ByteString data) {
    return PredictStreamRequest.newBuilder().setChunk(data).build();
  }

  private static byte[] chunkRequest(byte[] data) {
    return chunkMessage(ByteString.copyFrom(data)).toByteArray();
  }

  /** A header request whose one parameter value has {@code valueLength} characters. */
  private static PredictStreamRequest header(int valueLength) {
    return PredictStreamRequest.newBuilder()
        .setHeader(
            StreamHeader.newBuilder()
                .setModel(ModelSpec.newBuilder().setName("model").setVersion("1"))
                .putParameters("p", "v".repeat(valueLength)))
        .build();
  }

  private interface Fields {
    void write(CodedOutputStream out) throws IOException;
  }

  /** The bytes {@code fields} writes, for messages the generated builders cannot make. */
  private static byte[] wire(Fields fields) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    try {
      fields.write(out);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static byte[] bytes(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  private static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static Arguments split(String name, int... cuts) {
    return Arguments.of(Named.of(name, cuts));
  }

  private static int[] concat(int[] first, int[] second) {
    return IntStream.concat(Arrays.stream(first), Arrays.stream(second)).toArray();
  }

  /** Cuts every {@code size} bytes of a {@code length}-byte message. */
  private static int[] every(int size, int length) {
    return IntStream.iterate(size, c -> c < length, c -> c + size).toArray();
  }

  /** Cuts from {@code from} on, {@code min} to {@code max} bytes apart, within a 1 MiB message. */
  private static int[] randomCuts(long seed, int from, int min, int max) {
    Random random = new Random(seed);
    List<Integer> cuts = new ArrayList<>();
    for (int c = from + min + random.nextInt(max - min + 1);
        c < MIB_MESSAGE;
        c += min + random.nextInt(max - min + 1)) {
      cuts.add(c);
    }
    return cuts.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Cuts inside the first few bytes, where tags and lengths are, then every 4 KiB. */
  private static int[] prefixCuts(int length) {
    return IntStream.concat(IntStream.of(1, 2, 3, 5), IntStream.of(every(4096, length)))
        .filter(c -> c <= length)
        .toArray();
  }

  /** Up to 8 cuts at random positions, some inside the prefix. */
  private static int[] randomCuts(Random random, int length) {
    return IntStream.generate(
            () -> random.nextBoolean() ? random.nextInt(6) : random.nextInt(length + 1))
        .limit(random.nextInt(9))
        .filter(c -> c <= length)
        .sorted()
        .toArray();
  }

  // ---------------------------------------------------------------------------------------------
  // A stand-in for gRPC's transport.

  /** Makes transport streams and remembers every stream detached from one, in order. */
  static final class Transport {
    final Queue<TransportStream> detached = new ConcurrentLinkedQueue<>();

    /** A stream over {@code message} received in buffers that end at each of {@code cuts}. */
    TransportStream stream(byte[] message, int... cuts) {
      return new TransportStream(this, new NetworkBuffers(message, cuts), true);
    }

    /** As {@link #stream}, but saying it cannot expose its buffers. */
    TransportStream streamWithoutByteBuffers(byte[] message, int... cuts) {
      return new TransportStream(this, new NetworkBuffers(message, cuts), false);
    }

    /** Asserts {@code count} streams were detached and each was closed exactly once. */
    void assertEveryDetachedStreamClosedOnce(int count) {
      assertThat(detached).hasSize(count);
      assertThat(detached)
          .allSatisfy(d -> assertThat(d.closes()).as("closes of a detached stream").isEqualTo(1));
    }
  }

  /**
   * The bytes of one message as the transport received them: regions ("buffers") of one direct
   * {@link ByteBuffer}, with filler before, between and after them, so that reading past a buffer's
   * end shows. Closing the stream that owns them overwrites them, as a pooled allocator reusing the
   * memory would.
   */
  static final class NetworkBuffers {
    private static final int GAP = 7;
    private static final byte FILLER = (byte) 0xAB;
    private static final byte POISON = (byte) 0xEE;

    final ByteBuffer memory;
    final int[] starts;
    final int[] ends;

    /**
     * The buffers of {@code message} cut at {@code cuts}, which ascend (equal cuts: empty ones).
     */
    NetworkBuffers(byte[] message, int[] cuts) {
      int count = cuts.length + 1;
      starts = new int[count];
      ends = new int[count];
      memory = ByteBuffer.allocateDirect(message.length + GAP * (count + 1));
      for (int i = 0; i < memory.capacity(); i++) {
        memory.put(i, FILLER);
      }
      int address = GAP;
      int from = 0;
      for (int i = 0; i < count; i++) {
        int to = i < cuts.length ? cuts[i] : message.length;
        if (to < from || to > message.length) {
          throw new IllegalArgumentException("bad cuts " + Arrays.toString(cuts));
        }
        starts[i] = address;
        ends[i] = address + to - from;
        memory.put(address, message, from, to - from);
        address = ends[i] + GAP;
        from = to;
      }
    }

    private NetworkBuffers() {
      memory = ByteBuffer.allocateDirect(0);
      starts = new int[0];
      ends = new int[0];
    }

    static NetworkBuffers none() {
      return new NetworkBuffers();
    }

    int size() {
      int size = 0;
      for (int i = 0; i < starts.length; i++) {
        size += ends[i] - starts[i];
      }
      return size;
    }

    /** Overwrites the message in place, keeping the layout. */
    void write(byte[] message) {
      int from = 0;
      for (int i = 0; i < starts.length; i++) {
        memory.put(starts[i], message, from, ends[i] - starts[i]);
        from += ends[i] - starts[i];
      }
    }

    void poison() {
      for (int i = 0; i < starts.length; i++) {
        for (int a = starts[i]; a < ends[i]; a++) {
          memory.put(a, POISON);
        }
      }
    }
  }

  /**
   * Mirrors {@code io.grpc.internal.ReadableBuffers.BufferInputStream} over a {@code
   * CompositeReadableBuffer}: {@link #getByteBuffer} returns the rest of the current buffer without
   * advancing (its position need not be 0); reading a buffer to its end moves to the next, but an
   * empty buffer at the head stays there until the next read or skip, even of 0 bytes; {@link
   * #detach} hands the buffers to a new stream and leaves this one empty; {@link #close} releases
   * them, after which reading fails.
   */
  static final class TransportStream extends InputStream
      implements Detachable, KnownLength, HasByteBuffer {
    private final Transport transport;
    private final boolean byteBufferSupported;
    private final AtomicInteger closes = new AtomicInteger();
    private NetworkBuffers buffers;
    private int index;
    private int position;
    private int readable;
    private int markIndex;
    private int markPosition;
    private int markReadable;

    TransportStream(Transport transport, NetworkBuffers buffers, boolean byteBufferSupported) {
      this(
          transport,
          buffers,
          byteBufferSupported,
          0,
          buffers.starts.length > 0 ? buffers.starts[0] : 0,
          buffers.size());
    }

    private TransportStream(
        Transport transport,
        NetworkBuffers buffers,
        boolean byteBufferSupported,
        int index,
        int position,
        int readable) {
      this.transport = transport;
      this.buffers = buffers;
      this.byteBufferSupported = byteBufferSupported;
      this.index = index;
      this.position = position;
      this.readable = readable;
      mark(0);
    }

    NetworkBuffers buffers() {
      return buffers;
    }

    int closes() {
      return closes.get();
    }

    @Override
    public int available() {
      return readable;
    }

    @Override
    public int read() {
      if (readable == 0) {
        return -1;
      }
      byte[] one = new byte[1];
      consume(1, one, 0);
      return one[0] & 0xFF;
    }

    @Override
    public int read(byte[] target, int offset, int length) {
      Objects.checkFromIndexSize(offset, length, target.length);
      if (readable == 0) {
        return -1;
      }
      int n = Math.min(readable, length);
      consume(n, target, offset);
      return n;
    }

    @Override
    public long skip(long n) {
      int skipped = (int) Math.max(0, Math.min(readable, n));
      consume(skipped, null, 0);
      return skipped;
    }

    @Override
    public boolean markSupported() {
      return true;
    }

    @Override
    public void mark(int readLimit) {
      markIndex = index;
      markPosition = position;
      markReadable = readable;
    }

    @Override
    public void reset() {
      checkOpen();
      index = markIndex;
      position = markPosition;
      readable = markReadable;
    }

    @Override
    public boolean byteBufferSupported() {
      return byteBufferSupported;
    }

    @Override
    public ByteBuffer getByteBuffer() {
      checkOpen();
      if (!byteBufferSupported) {
        throw new UnsupportedOperationException("getByteBuffer");
      }
      if (index >= buffers.starts.length) {
        return null;
      }
      ByteBuffer current = buffers.memory.duplicate();
      current.limit(buffers.ends[index]).position(position);
      return current;
    }

    @Override
    public InputStream detach() {
      checkOpen();
      TransportStream detached =
          new TransportStream(transport, buffers, byteBufferSupported, index, position, readable);
      buffers = NetworkBuffers.none();
      index = 0;
      position = 0;
      readable = 0;
      mark(0);
      transport.detached.add(detached);
      return detached;
    }

    @Override
    public void close() {
      if (closes.incrementAndGet() == 1) {
        buffers.poison();
      }
    }

    /** Reads {@code n} bytes into {@code target}, or skips them if it is null. */
    private void consume(int n, byte[] target, int offset) {
      checkOpen();
      if (n > readable) {
        throw new IndexOutOfBoundsException(n + " > " + readable);
      }
      int count = buffers.starts.length;
      if (index < count) {
        advanceIfHeadIsEmpty();
      }
      while (n > 0 && index < count) {
        int k = Math.min(n, buffers.ends[index] - position);
        if (target != null) {
          buffers.memory.get(position, target, offset, k);
          offset += k;
        }
        position += k;
        readable -= k;
        n -= k;
        advanceIfHeadIsEmpty();
      }
    }

    private void advanceIfHeadIsEmpty() {
      if (position == buffers.ends[index]) {
        index++;
        if (index < buffers.starts.length) {
          position = buffers.starts[index];
        }
      }
    }

    private void checkOpen() {
      if (closes.get() > 0) {
        throw new IllegalStateException("the transport's buffers were released");
      }
    }
  }
}
