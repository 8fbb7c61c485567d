/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.IpcCompression;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Streams with compressed Arrow IPC bodies, both ways: what the client sends ({@code
 * inputCompression}) and what it asks the server to send back ({@code outputCompression}, the
 * header's {@code output_compression}). The bytes on the wire are counted by an interceptor, so a
 * setting that compresses nothing fails here.
 */
class CompressedStreamsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private InProcessHarness harness;

  /** A client on the harness channel with the byte counter; derived clients share it. */
  private PredictClient counted;

  private final WireBytes wire = new WireBytes();

  @AfterEach
  void stop() throws Exception {
    if (counted != null) {
      counted.close();
    }
    if (harness != null) {
      assertThat(harness.serverBytesAfterCalls()).as("server Arrow memory after calls").isZero();
      harness.close();
    }
  }

  private PredictClient start(ServerLimits limits, IpcCompression in, IpcCompression out) {
    harness = new InProcessHarness(arrow.allocator(), limits, new TestModels.EchoModel());
    counted =
        PredictClient.create(
            ClientInterceptors.intercept(harness.channel, wire), arrow.allocator());
    return counted.withCompression(in, out);
  }

  private PredictClient start(IpcCompression in, IpcCompression out) {
    return start(ServerLimits.defaults(), in, out);
  }

  /** A column of few distinct values: compresses several times with either codec. */
  private VectorSchemaRoot repetitive(int rows) {
    IntVector v = new IntVector("category", arrow.allocator());
    v.allocateNew(rows);
    for (int r = 0; r < rows; r++) {
      v.set(r, r % 7);
    }
    v.setValueCount(rows);
    VectorSchemaRoot root = VectorSchemaRoot.of(v);
    root.setRowCount(rows);
    return root;
  }

  @ParameterizedTest
  @CsvSource({
    "NONE, LZ4_FRAME",
    "NONE, ZSTD",
    "LZ4_FRAME, NONE",
    "ZSTD, NONE",
    "LZ4_FRAME, ZSTD",
    "ZSTD, LZ4_FRAME",
  })
  void echo_allTypesDictionariesAndEmptyBatches_roundTripInEitherCodec(
      IpcCompression in, IpcCompression out) throws Exception {
    PredictClient client = start(in, out);
    AllTypes.assertEchoRoundTrip(client, arrow.allocator());
    try (DictionaryBatch dict = DictionaryBatch.create(arrow.allocator())) {
      dict.assertEchoedTwice(client);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = IpcCompression.class,
      names = {"LZ4_FRAME", "ZSTD"})
  void compressibleColumns_travelCompressedBothWays(IpcCompression codec) {
    PredictClient plain = start(IpcCompression.NONE, IpcCompression.NONE);
    echoRepetitive(plain);
    long plainUp = wire.sent.getAndSet(0);
    long plainDown = wire.received.getAndSet(0);

    echoRepetitive(plain.withCompression(codec, codec));

    assertThat(wire.sent.get()).isLessThan(plainUp / 3);
    assertThat(wire.received.get()).isLessThan(plainDown / 3);
  }

  @Test
  void builderOptions_compressBothWaysOverTcp() throws Exception {
    try (PredictServer server =
            PredictServer.builder(arrow.allocator())
                .bindAddress("127.0.0.1")
                .addModel(new TestModels.EchoModel())
                .build()
                .start();
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), arrow.allocator())
                .inputCompression(IpcCompression.ZSTD)
                .outputCompression(IpcCompression.LZ4_FRAME)
                .intercept(wire)
                .build()) {
      echoRepetitive(client);
    }
    long plainBytes = 2 * (100_000 * 4L + 100_000 / 8); // two batches, data and validity
    assertThat(wire.sent.get()).isLessThan(plainBytes / 3);
    assertThat(wire.received.get()).isLessThan(plainBytes / 3);
  }

  private void echoRepetitive(PredictClient client) {
    try (VectorSchemaRoot batch = repetitive(100_000);
        PredictionStream results =
            client.predictStream(ModelRef.of("echo"), List.of(batch, batch).iterator())) {
      for (int i = 0; i < 2; i++) {
        assertThat(results.next()).isTrue();
        assertThat(results.root().equals(batch)).isTrue();
      }
      assertThat(results.next()).isFalse();
    }
  }

  @Test
  void incompressibleColumns_roundTripAndCostNoMoreThanAFewBytesPerBuffer() {
    PredictClient client = start(IpcCompression.ZSTD, IpcCompression.ZSTD);
    int rows = 50_000;
    Float4Vector v = new Float4Vector("noise", arrow.allocator());
    v.allocateNew(rows);
    SplittableRandom random = new SplittableRandom(7);
    for (int r = 0; r < rows; r++) {
      v.set(r, Float.intBitsToFloat(random.nextInt()));
    }
    v.setValueCount(rows);
    try (VectorSchemaRoot batch = VectorSchemaRoot.of(v);
        PredictionStream results =
            client.predictStream(ModelRef.of("echo"), List.of(batch).iterator())) {
      batch.setRowCount(rows);
      assertThat(results.next()).isTrue();
      assertThat(results.root().equals(batch)).isTrue();
      assertThat(results.next()).isFalse();
    }
    long body = rows * 4L + rows / 8;
    // Stored raw (length prefix -1) rather than grown: schema, metadata, prefixes, a few hundred.
    assertThat(wire.sent.get()).isBetween(rows * 4L, body + 1024);
    assertThat(wire.received.get()).isBetween(rows * 4L, body + 1024);
  }

  @Test
  void clientCancelsMidStream_withCompressionBothWays_everyoneReleasesMemory() throws Exception {
    PredictClient client = start(IpcCompression.ZSTD, IpcCompression.LZ4_FRAME);
    try (GeneratedBatches batches = GeneratedBatches.endless(arrow.allocator(), 4, 20_000);
        PredictionStream results = client.predictStream(ModelRef.of("echo"), batches)) {
      for (int i = 0; i < 3; i++) {
        assertThat(results.next()).isTrue();
        GeneratedBatches.check(results.root(), i, 4, 20_000);
      }
      // Closing a stream that is still going cancels it; the harness checks the server's memory.
    }
  }

  @Test
  void memoryLimit_countsTheCompressedCopies_andFailsCleanly() {
    // An echo of 1 MB of noise holds its input; compressing the output needs about as much again.
    int rows = 250_000;
    long body = rows * 4L;
    ServerLimits limits =
        ServerLimits.builder()
            .maxCallMemoryBytes(body + body / 2)
            .maxMessageBytes(2 * body)
            .build();
    PredictClient plain = start(limits, IpcCompression.NONE, IpcCompression.NONE);
    Float4Vector v = new Float4Vector("noise", arrow.allocator());
    v.allocateNew(rows);
    SplittableRandom random = new SplittableRandom(3);
    for (int r = 0; r < rows; r++) {
      v.set(r, (float) random.nextDouble());
    }
    v.setValueCount(rows);
    try (VectorSchemaRoot batch = VectorSchemaRoot.of(v)) {
      batch.setRowCount(rows);
      try (PredictionStream results =
          plain.predictStream(ModelRef.of("echo"), List.of(batch).iterator())) {
        assertThat(results.next()).isTrue();
        assertThat(results.next()).isFalse();
      }
      try (PredictionStream results =
          plain
              .withCompression(IpcCompression.NONE, IpcCompression.ZSTD)
              .predictStream(ModelRef.of("echo"), List.of(batch).iterator())) {
        assertThatThrownBy(results::next)
            .isInstanceOfSatisfying(
                PredictException.class,
                e -> assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
            .hasMessageContaining("maxCallMemoryBytes");
      }
    }
  }

  @Test
  void corruptCompressedBody_isInvalidArgument() throws Exception {
    harness = new InProcessHarness(arrow.allocator(), new TestModels.EchoModel());
    List<ByteString> chunks = new ArrayList<>();
    try (VectorSchemaRoot batch = repetitive(10_000)) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(batch.getSchema(), null, 1 << 20, chunks::add)
              .compression(IpcCompression.ZSTD, arrow.allocator());
      encoder.writeStart();
      encoder.writeBatch(batch);
    }
    // chunks: the schema, then the batch; scramble the batch's last bytes, inside its body.
    byte[] message = chunks.get(1).toByteArray();
    for (int i = message.length - 24; i < message.length; i++) {
      message[i] = (byte) (message[i] * 31 + 7);
    }
    Status status =
        rawStream(
            StreamHeader.newBuilder().setModel(ModelSpec.newBuilder().setName("echo")).build(),
            List.of(chunks.get(0), ByteString.copyFrom(message)));
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).contains("record batch 0").contains("compressed buffer");
  }

  @Test
  void unknownOutputCompressionValue_isInvalidArgumentNamingTheField() throws Exception {
    harness = new InProcessHarness(arrow.allocator(), new TestModels.EchoModel());
    Status status =
        rawStream(
            StreamHeader.newBuilder()
                .setModel(ModelSpec.newBuilder().setName("echo"))
                .setOutputCompressionValue(9)
                .build(),
            List.of());
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).contains("output_compression").contains("9");
  }

  /** Sends a header and chunks on the generated stub, half-closes, and returns the final status. */
  private Status rawStream(StreamHeader header, List<ByteString> chunks) throws Exception {
    CompletableFuture<Status> done = new CompletableFuture<>();
    StreamObserver<PredictStreamRequest> requests =
        PredictionServiceGrpc.newStub(harness.channel)
            .predictStream(
                new StreamObserver<PredictStreamResponse>() {
                  @Override
                  public void onNext(PredictStreamResponse value) {}

                  @Override
                  public void onError(Throwable t) {
                    done.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    done.complete(Status.OK);
                  }
                });
    requests.onNext(PredictStreamRequest.newBuilder().setHeader(header).build());
    for (ByteString chunk : chunks) {
      requests.onNext(PredictStreamRequest.newBuilder().setChunk(chunk).build());
    }
    requests.onCompleted();
    return done.get(10, TimeUnit.SECONDS);
  }

  /** Counts the Arrow IPC bytes of stream chunks in each direction. */
  private static final class WireBytes implements ClientInterceptor {
    final AtomicLong sent = new AtomicLong();
    final AtomicLong received = new AtomicLong();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return new ForwardingClientCall.SimpleForwardingClientCall<Q, R>(
          next.newCall(method, options)) {
        @Override
        public void sendMessage(Q message) {
          if (message instanceof PredictStreamRequest) {
            sent.addAndGet(((PredictStreamRequest) message).getChunk().size());
          }
          super.sendMessage(message);
        }

        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<R>(listener) {
                @Override
                public void onMessage(R message) {
                  if (message instanceof PredictStreamResponse) {
                    received.addAndGet(((PredictStreamResponse) message).getChunk().size());
                  }
                  super.onMessage(message);
                }
              },
              headers);
        }
      };
    }
  }
}
