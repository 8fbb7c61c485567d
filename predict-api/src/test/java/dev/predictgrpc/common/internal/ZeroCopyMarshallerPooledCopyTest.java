/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common.internal;

import static dev.predictgrpc.common.internal.ZeroCopyMarshallerTest.contentOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ChunkPool;
import dev.predictgrpc.common.internal.ZeroCopyMarshallerTest.Transport;
import dev.predictgrpc.common.internal.ZeroCopyMarshallerTest.TransportStream;
import java.io.InputStream;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Messages the transport cannot expose as ByteBuffers (grpc-netty reports a few so), received
 * through a marshaller with a copy pool: copied once into a pooled array and handed over like a
 * zero-copy message, the array going back to the pool on release. Everything else about them must
 * be as without the pool.
 */
class ZeroCopyMarshallerPooledCopyTest {
  private static final int MIB = 1 << 20;

  private final Transport transport = new Transport();
  private final ChunkPool pool = StreamMarshallers.inboundCopyPool(MIB, 2);
  private final ZeroCopyMarshaller<PredictStreamRequest> requests =
      StreamMarshallers.requests(pool);

  @Test
  void aFullSizeChunk_isCopiedOnceIntoAPooledArray_andTheArrayComesBackOnRelease() {
    ByteString data = randomBytes(MIB, 1);
    byte[] wire = chunkRequest(data);
    TransportStream received = transport.streamWithoutByteBuffers(wire, 3, 100_000, 700_000);

    PredictStreamRequest parsed = requests.parse(received);
    received.close(); // As gRPC does after parse; the network memory is then reused.

    assertThat(transport.detached).as("the stream is read, not detached").isEmpty();
    assertThat(parsed.getChunk()).as("the placeholder's chunk").isEmpty();
    ReceivedBytes bytes = requests.takeBytes(parsed);
    assertThat(bytes).isNotNull();
    // The network memory was overwritten on close, so equal content proves the copy.
    assertThat(contentOf(bytes)).isEqualTo(data);
    assertThat(pool.idleArrays()).isZero();

    bytes.release();
    bytes.release();

    assertThat(pool.idleArrays()).isEqualTo(1);
    assertThat(requests.untaken()).isZero();
  }

  @Test
  void theNextMessage_reusesTheReleasedArray() {
    ReceivedBytes first = receive(randomBytes(64 << 10, 2));
    first.release();
    assertThat(pool.idleArrays()).isEqualTo(1);

    ByteString data = randomBytes(200 << 10, 3);
    ReceivedBytes second = receive(data);

    assertThat(pool.idleArrays()).as("taken from the pool, not allocated").isZero();
    assertThat(contentOf(second)).isEqualTo(data);
    second.release();
  }

  @Test
  void aMessageLargerThanThePoolsArrays_isParsedByProtobuf() {
    ByteString data = randomBytes(MIB + 8, 4); // With tag and length: over MIB + 6.
    byte[] wire = chunkRequest(data);

    PredictStreamRequest parsed = requests.parse(transport.streamWithoutByteBuffers(wire, 9));

    assertThat(parsed.getChunk()).isEqualTo(data);
    assertThat(requests.takeBytes(parsed)).isNull();
    assertThat(pool.idleArrays()).isZero();
  }

  @Test
  void anotherShape_isParsedByProtobuf_andTheArrayGoesBack() throws Exception {
    PredictStreamRequest header =
        PredictStreamRequest.newBuilder()
            .setHeader(
                StreamHeader.newBuilder()
                    .setModel(ModelSpec.newBuilder().setName("m".repeat(40 << 10))))
            .build();
    byte[] wire = header.toByteArray();

    PredictStreamRequest parsed = requests.parse(transport.streamWithoutByteBuffers(wire, 5));

    assertThat(parsed).isEqualTo(PredictStreamRequest.parseFrom(wire));
    assertThat(requests.takeBytes(parsed)).isNull();
    assertThat(pool.idleArrays()).isEqualTo(1);
  }

  @Test
  void anInProcessMessageStream_neverTouchesThePool() {
    ByteString data = randomBytes(MIB, 5);
    PredictStreamRequest sent = PredictStreamRequest.newBuilder().setChunk(data).build();

    // In-process, gRPC hands the receiver the sender's stream: protobuf takes the message itself.
    InputStream stream = requests.stream(sent);
    PredictStreamRequest parsed = requests.parse(stream);

    assertThat(parsed.getChunk()).isEqualTo(data);
    assertThat(requests.takeBytes(parsed)).isNull();
    assertThat(pool.idleArrays()).isZero();
  }

  @Test
  void smallMessages_areParsedByProtobuf() {
    ByteString data = randomBytes(1000, 6);

    PredictStreamRequest parsed =
        requests.parse(transport.streamWithoutByteBuffers(chunkRequest(data), 10));

    assertThat(parsed.getChunk()).isEqualTo(data);
    assertThat(requests.takeBytes(parsed)).isNull();
  }

  @Test
  void thePool_refusesArraysOfAnotherSize() {
    assertThatThrownBy(() -> pool.give(new byte[100]))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("100 bytes");
    assertThat(pool.idleArrays()).isZero();
  }

  private ReceivedBytes receive(ByteString data) {
    byte[] wire = chunkRequest(data);
    TransportStream received = transport.streamWithoutByteBuffers(wire, wire.length / 2);
    PredictStreamRequest parsed = requests.parse(received);
    received.close();
    ReceivedBytes bytes = requests.takeBytes(parsed);
    assertThat(bytes).isNotNull();
    return bytes;
  }

  private static byte[] chunkRequest(ByteString data) {
    return PredictStreamRequest.newBuilder().setChunk(data).build().toByteArray();
  }

  private static ByteString randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return ByteString.copyFrom(bytes);
  }
}
