/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.chunk;
import static dev.predictgrpc.server.InProcessPredict.chunksAfterHeader;
import static dev.predictgrpc.server.InProcessPredict.header;
import static dev.predictgrpc.server.InProcessPredict.messages;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The PredictStream framing rules and error statuses, driven through the raw generated stub as a
 * Python or JavaScript client would: header first, chunks cut anywhere, half-close to end.
 */
class PredictStreamProtocolTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  // ---- Happy paths ----

  @Test
  void happyPath_headerWithResolvedVersionThenOneOutputBatchPerInputBatch() throws Exception {
    try (InProcessPredict p =
        InProcessPredict.start(allocator(), TestModel.scale("doubler").version("3"))) {
      ByteString input = Batches.xStream(allocator(), 4, 1, 7);

      Collector<PredictStreamResponse> call =
          p.stream(messages("doubler", Batches.split(input, 64)));

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      PredictStreamResponse first = call.messages().get(0);
      assertThat(first.hasHeader()).isTrue();
      assertThat(first.getHeader().getModel().getName()).isEqualTo("doubler");
      assertThat(first.getHeader().getModel().getVersion()).isEqualTo("3");
      Batches.Decoded out = Batches.decode(allocator(), chunksAfterHeader(call.messages()));
      assertThat(out.rowCounts()).containsExactly(4, 1, 7);
      assertThat(out.endOfStream()).as("output ends with the end-of-stream marker").isTrue();
      assertThat(out.schema().getFields()).extracting(f -> f.getName()).containsExactly("y");
      for (int b = 0; b < 3; b++) {
        List<Object> y = out.batches().get(b).column("y");
        for (int i = 0; i < y.size(); i++) {
          assertThat(y.get(i)).isEqualTo(2 * Batches.value(b, i));
        }
      }
    }
  }

  @Test
  void chunksCutAnywhere_evenInsideTheMessagePrefix_ok() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 2, 3);
      for (int size : new int[] {1, 3, 5, 7, 13}) {
        Collector<PredictStreamResponse> call =
            p.stream(messages("scale", Batches.split(input, size)));
        assertThat(call.awaitStatus().getCode())
            .as("chunk size %s", size)
            .isEqualTo(Status.Code.OK);
        assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
            .containsExactly(2, 3);
      }
      p.awaitCallMemoryReleased();
    }
  }

  @Test
  void wholeStreamInOneChunk_everyBatchScored() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 1, 2, 3, 4);
      Collector<PredictStreamResponse> call = p.stream(messages("scale", List.of(input)));
      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
          .containsExactly(1, 2, 3, 4);
    }
  }

  @Test
  void inputWithoutEndOfStreamMarker_ok() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.floatStream(allocator(), false, new int[] {2, 5}, "x");
      Collector<PredictStreamResponse> call = p.stream(messages("scale", List.of(input)));
      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      Batches.Decoded out = Batches.decode(allocator(), chunksAfterHeader(call.messages()));
      assertThat(out.rowCounts()).containsExactly(2, 5);
      assertThat(out.endOfStream()).isTrue();
    }
  }

  @Test
  void outputChunks_atMostMaxChunkBytes_andCutAtEveryBatchEnd() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxChunkBytes(4096).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      ByteString input = Batches.xStream(allocator(), 5000, 10, 3000);

      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", Batches.split(input, 4096)));

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      List<ByteString> chunks = chunksAfterHeader(call.messages());
      assertThat(chunks).hasSizeGreaterThan(8); // 32 KB of floats in 4 KiB chunks
      assertThat(chunks).allSatisfy(c -> assertThat(c.size()).isBetween(1, 4096));
      assertThat(Batches.decode(allocator(), chunks).rowCounts()).containsExactly(5000, 10, 3000);
      // Wherever a batch becomes complete, the chunks so far end exactly at a message boundary:
      // no chunk holds bytes of two output batches.
      int completed = 0;
      for (int k = 1; k <= chunks.size(); k++) {
        try (ArrowChunkDecoder prefix = ArrowChunkDecoder.builder(allocator()).build()) {
          int batches = 0;
          for (ByteString c : chunks.subList(0, k)) {
            prefix.append(c);
            while (prefix.nextBatch()) {
              batches++;
            }
          }
          if (batches > completed) {
            completed = batches;
            prefix.finish(); // throws if the prefix ends inside a message
          }
        }
      }
      assertThat(completed).isEqualTo(3);
    }
  }

  @Test
  void outputBatch_isSentBeforeTheNextInputBatchArrives() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      List<ByteString> perBatch = new ArrayList<>();
      Schema schema = TestModel.floatSchema(true, "x");
      try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator())) {
        List<ByteString> parts = new ArrayList<>();
        ArrowChunkEncoder encoder = ArrowChunkEncoder.create(schema, null, 1 << 20, parts::add);
        for (int b = 0; b < 2; b++) {
          Float4Vector x = (Float4Vector) root.getVector(0);
          x.allocateNew(3);
          for (int i = 0; i < 3; i++) {
            x.set(i, Batches.value(b, i));
          }
          root.setRowCount(3);
          encoder.writeBatch(root);
          perBatch.add(Batches.concat(parts));
          parts.clear();
        }
        encoder.end();
        perBatch.add(Batches.concat(parts));
      }
      Collector<PredictStreamResponse> call = new Collector<>();
      StreamObserver<PredictStreamRequest> out = p.async().predictStream(call);
      out.onNext(header("scale", ""));
      out.onNext(chunk(perBatch.get(0)));
      awaitDecodedBatches(call, 1);
      assertThat(call.isDone()).isFalse();

      out.onNext(chunk(perBatch.get(1)));
      awaitDecodedBatches(call, 2);
      out.onNext(chunk(perBatch.get(2)));
      out.onCompleted();

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
          .containsExactly(3, 3);
    }
  }

  /** Waits up to 10 s until the responses so far hold {@code expected} complete output batches. */
  private void awaitDecodedBatches(Collector<PredictStreamResponse> call, int expected)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int batches = 0;
    while (System.nanoTime() < deadline) {
      batches = countCompleteBatches(call.messages());
      if (batches >= expected) {
        break;
      }
      Thread.sleep(5);
    }
    assertThat(batches).isEqualTo(expected);
  }

  private int countCompleteBatches(List<PredictStreamResponse> responses) {
    int batches = 0;
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(allocator()).build()) {
      for (PredictStreamResponse r : responses) {
        if (r.hasChunk()) {
          decoder.append(r.getChunk());
          while (decoder.nextBatch()) {
            batches++;
          }
        }
      }
    }
    return batches;
  }

  @Test
  void halfCloseRightAfterHeader_okWithZeroBatches() throws Exception {
    Schema declared = TestModel.floatSchema(true, "y");
    try (InProcessPredict p =
        InProcessPredict.start(allocator(), TestModel.scale("typed").output(declared))) {
      Collector<PredictStreamResponse> call = p.stream(header("typed", ""));

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      Batches.Decoded out = Batches.decode(allocator(), chunksAfterHeader(call.messages()));
      assertThat(out.batches()).isEmpty();
      assertThat(out.endOfStream()).isTrue();
      assertThat(out.schema()).isEqualTo(declared);

      Collector<PredictStreamResponse> untyped = p.stream(header("scale", ""));
      assertThat(untyped.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      assertThat(Batches.decode(allocator(), chunksAfterHeader(untyped.messages())).batches())
          .isEmpty();
    }
  }

  @Test
  void zeroRowBatch_okWithZeroRowOutputBatch() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", List.of(Batches.xStream(allocator(), 0, 2, 0))));
      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
          .containsExactly(0, 2, 0);
    }
  }

  // ---- Framing errors ----

  @Test
  void firstMessageNotHeader_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call =
          p.stream(chunk(Batches.xStream(allocator(), 2)), header("scale", ""));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "header");
      assertThat(call.messages()).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @Test
  void secondHeader_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 2);
      Collector<PredictStreamResponse> call =
          p.stream(header("scale", ""), chunk(input.substring(0, 20)), header("scale", ""));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "header");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void messageWithNeitherField_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      PredictStreamRequest empty = PredictStreamRequest.getDefaultInstance();

      Collector<PredictStreamResponse> afterHeader = p.stream(header("scale", ""), empty);
      assertCleanError(afterHeader.awaitStatus(), Status.Code.INVALID_ARGUMENT, "header", "chunk");

      Collector<PredictStreamResponse> first = p.stream(empty);
      assertCleanError(first.awaitStatus(), Status.Code.INVALID_ARGUMENT, "header");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void halfCloseBeforeHeader_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call = p.stream();
      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "header");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void randomBytesAsChunk_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      byte[] garbage = new byte[512];
      new Random(7).nextBytes(garbage);
      // A continuation token and a plausible metadata length, then noise: Arrow must reject the
      // flatbuffer, not crash on it.
      ByteString input =
          ByteString.copyFrom(new byte[] {-1, -1, -1, -1, (byte) 200, 0, 0, 0})
              .concat(ByteString.copyFrom(garbage));

      Collector<PredictStreamResponse> call = p.stream(messages("scale", List.of(input)));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "scale");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void manyRandomInputs_neverInternal_andNothingLeaks() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Random random = new Random(20240601);
      ByteString valid = Batches.xStream(allocator(), 3, 4);
      for (int i = 0; i < 200; i++) {
        ByteString input;
        if (i % 2 == 0) {
          byte[] garbage = new byte[1 + random.nextInt(600)];
          random.nextBytes(garbage);
          input = ByteString.copyFrom(garbage);
        } else {
          // A valid stream with a few bytes flipped: deeper into the decoder than pure noise.
          byte[] bytes = valid.toByteArray();
          for (int flips = 0; flips < 3; flips++) {
            bytes[random.nextInt(bytes.length)] ^= (byte) (1 + random.nextInt(255));
          }
          input = ByteString.copyFrom(bytes);
        }
        Collector<PredictStreamResponse> call =
            p.stream(messages("scale", Batches.split(input, 1 + random.nextInt(64))));
        Status status = call.awaitStatus();
        if (!status.isOk()) {
          assertThat(status.getCode())
              .as("input %s: %s", i, status)
              .isIn(Status.Code.INVALID_ARGUMENT, Status.Code.RESOURCE_EXHAUSTED);
          assertCleanError(status, status.getCode(), "scale");
        }
      }
      p.assertServesGoodCalls();
    }
  }

  @Test
  void truncatedStream_invalidArgumentNamingTheTruncation() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString whole = Batches.floatStream(allocator(), false, new int[] {100}, "x");
      ByteString cut = whole.substring(0, whole.size() - 50); // inside the batch's body

      Collector<PredictStreamResponse> call = p.stream(messages("scale", List.of(cut)));

      assertCleanError(
          call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "truncated", "ended inside");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void streamEndingInsideMessagePrefix_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString schemaOnly = Batches.floatStream(allocator(), false, new int[0], "x");
      ByteString cut = schemaOnly.concat(ByteString.copyFrom(new byte[] {-1, -1, -1}));

      Collector<PredictStreamResponse> call = p.stream(messages("scale", List.of(cut)));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "truncated");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void bytesAfterEndOfStreamMarker_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 2);
      ByteString trailing = ByteString.copyFrom(new byte[] {1, 2, 3, 4});

      Collector<PredictStreamResponse> sameChunk =
          p.stream(messages("scale", List.of(input.concat(trailing))));
      assertCleanError(sameChunk.awaitStatus(), Status.Code.INVALID_ARGUMENT, "end-of-stream");

      Collector<PredictStreamResponse> laterChunk =
          p.stream(messages("scale", List.of(input, trailing)));
      assertCleanError(laterChunk.awaitStatus(), Status.Code.INVALID_ARGUMENT, "end-of-stream");
      p.assertServesGoodCalls();
    }
  }

  // ---- Model resolution ----

  @Test
  void unknownModel_notFoundNamingIt() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("no-such-model", List.of(Batches.xStream(allocator(), 1))));

      assertCleanError(call.awaitStatus(), Status.Code.NOT_FOUND, "no-such-model");
      assertThat(call.messages()).isEmpty();
      p.assertServesGoodCalls();
    }
  }

  @Test
  void unknownVersion_notFoundNamingModelAndVersion() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call = p.stream(header("scale", "42"));

      assertCleanError(call.awaitStatus(), Status.Code.NOT_FOUND, "scale", "42");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void emptyModelName_invalidArgument() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      Collector<PredictStreamResponse> call = p.stream(header("", ""));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "model");
      p.assertServesGoodCalls();
    }
  }

  // ---- Limits ----

  @Test
  void maxBatchRowsExceeded_resourceExhaustedNamingTheLimit() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxBatchRows(100).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", List.of(Batches.xStream(allocator(), 100, 101))));

      assertCleanError(
          call.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "maxBatchRows", "scale", "101");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxMessageBytesExceeded_resourceExhaustedNamingTheLimit() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxMessageBytes(1024).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", Batches.split(Batches.xStream(allocator(), 1000), 256)));

      assertCleanError(call.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "maxMessageBytes");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxStreamBytesExceeded_resourceExhaustedNamingTheLimit() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxStreamBytes(2048).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      ByteString input = Batches.xStream(allocator(), 200, 200, 200);
      assertThat(input.size()).isGreaterThan(2048);

      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", Batches.split(input, 512)));

      assertCleanError(call.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "maxStreamBytes");
      p.assertServesGoodCalls();
    }
  }

  /**
   * Over loopback TCP, because grpc-java's in-process transport ignores maxInboundMessageSize (it
   * hands message objects across without framing them); Netty enforces it.
   */
  @Test
  void grpcMessageOverMaxInboundMessageBytes_resourceExhausted() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxInboundMessageBytes(16 << 10).build();
    try (PredictServer server =
        PredictServer.builder(allocator())
            .port(0)
            .bindAddress("127.0.0.1")
            .limits(limits)
            .addModel(TestModel.scale("scale"))
            .build()
            .start()) {
      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", server.port(), InsecureChannelCredentials.create())
              .build();
      try {
        ByteString big = Batches.xStream(allocator(), 10_000); // ~40 KB in one gRPC message

        // An oversized first message (a header with a huge parameter): RESOURCE_EXHAUSTED.
        Collector<PredictStreamResponse> bigHeader = new Collector<>();
        StreamObserver<PredictStreamRequest> out =
            PredictionServiceGrpc.newStub(channel).predictStream(bigHeader);
        out.onNext(
            PredictStreamRequest.newBuilder()
                .setHeader(
                    StreamHeader.newBuilder()
                        .setModel(ModelSpec.newBuilder().setName("scale"))
                        .putParameters("blob", "x".repeat(20_000)))
                .build());
        out.onCompleted();
        assertCleanError(bigHeader.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "size");

        // An oversized chunk arrives after the server has sent its response header, and so its
        // HTTP/2 headers. grpc-java's Netty server can then only reset the stream
        // (RST_STREAM CANCEL) instead of sending trailers, so the client sees CANCELLED. A
        // transport limitation: the call still fails at once and the server frees the call.
        Collector<PredictStreamResponse> call = new Collector<>();
        out = PredictionServiceGrpc.newStub(channel).predictStream(call);
        out.onNext(header("scale", ""));
        out.onNext(chunk(big));
        out.onCompleted();
        Status status = call.awaitStatus();
        assertThat(status.getCode())
            .as("status %s", status)
            .isIn(Status.Code.RESOURCE_EXHAUSTED, Status.Code.CANCELLED);
        // At most the response header: the reset can overtake it on the wire, so it may be absent.
        assertThat(call.messages()).hasSizeLessThanOrEqualTo(1);
        awaitZero(server.service());

        PredictionServiceGrpc.PredictionServiceBlockingStub blocking =
            PredictionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        Status unary =
            WireAssertions.statusOf(
                () -> blocking.predict(InProcessPredict.request("scale", "", big)));
        assertCleanError(unary, Status.Code.RESOURCE_EXHAUSTED, "size");

        // The same server still answers a good call, split into chunks under the limit.
        ByteString good = Batches.xStream(allocator(), 3000, 2);
        Collector<PredictStreamResponse> ok = new Collector<>();
        out = PredictionServiceGrpc.newStub(channel).predictStream(ok);
        for (PredictStreamRequest r : messages("scale", Batches.split(good, 8 << 10))) {
          out.onNext(r);
        }
        out.onCompleted();
        assertThat(ok.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
        assertThat(Batches.decode(allocator(), chunksAfterHeader(ok.messages())).rowCounts())
            .containsExactly(3000, 2);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      awaitZero(server.service());
    }
  }

  private static void awaitZero(PredictService service) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (service.allocatedBytes() != 0 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(service.allocatedBytes()).isZero();
  }

  @Test
  void maxCallMemoryBytesExceededByInput_resourceExhausted() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxCallMemoryBytes(16 << 10).build();
    try (InProcessPredict p = InProcessPredict.builder(allocator()).limits(limits).start()) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("scale", Batches.split(Batches.xStream(allocator(), 10_000), 4096)));

      assertCleanError(
          call.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "scale", "maxCallMemoryBytes");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void maxCallMemoryBytesExceededByModel_resourceExhausted() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxCallMemoryBytes(16 << 10).build();
    TestModel greedy =
        TestModel.of(
            "greedy",
            (ctx, input) -> {
              // Holds on to the vector only if allocation succeeds; otherwise nothing leaks.
              Float4Vector big = new Float4Vector("y", ctx.allocator());
              try {
                big.allocateNew(1 << 20);
              } catch (RuntimeException e) {
                big.close();
                throw e;
              }
              big.close();
              return TestModel.doubleFirstColumn(ctx, input);
            });
    try (InProcessPredict p =
        InProcessPredict.builder(allocator()).limits(limits).model(greedy).start()) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("greedy", List.of(Batches.xStream(allocator(), 2))));

      assertCleanError(
          call.awaitStatus(), Status.Code.RESOURCE_EXHAUSTED, "greedy", "maxCallMemoryBytes");
      p.assertServesGoodCalls();
    }
  }

  // ---- Model failures ----

  @Test
  void modelThrowsOnBatch2Of5_internalNamingModelAndBatchButNotTheCause() throws Exception {
    TestModel flaky =
        TestModel.of(
            "flaky",
            (ctx, input) -> {
              if (ctx.batchIndex() == 2) {
                throw new RuntimeException("secret /etc/passwd detail");
              }
              return TestModel.doubleFirstColumn(ctx, input);
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), flaky)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("flaky", List.of(Batches.xStream(allocator(), 1, 2, 3, 4, 5))));

      Status status = call.awaitStatus();
      assertCleanError(status, Status.Code.INTERNAL, "flaky", "batch 2");
      assertThat(status.getDescription()).doesNotContain("secret", "/etc/passwd", "detail");
      // Batches 0 and 1 were answered before the failure.
      assertThat(countCompleteBatches(call.messages())).isEqualTo(2);
      assertThat(flaky.batches.get()).isEqualTo(3);
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelThrowsPredictException_itsCodeAndMessage() throws Exception {
    TestModel picky =
        TestModel.of(
            "picky",
            (ctx, input) -> {
              throw new PredictException(Status.Code.FAILED_PRECONDITION, "x");
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), picky)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("picky", List.of(Batches.xStream(allocator(), 2))));

      Status status = call.awaitStatus();
      assertCleanError(status, Status.Code.FAILED_PRECONDITION);
      assertThat(status.getDescription()).isEqualTo("x");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelThrowsIllegalArgument_invalidArgumentWithItsMessage() throws Exception {
    TestModel strict =
        TestModel.of(
            "strict",
            (ctx, input) -> {
              throw new IllegalArgumentException("parameter 'threshold' must be in [0, 1]");
            });
    try (InProcessPredict p = InProcessPredict.start(allocator(), strict)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("strict", List.of(Batches.xStream(allocator(), 2))));

      assertCleanError(call.awaitStatus(), Status.Code.INVALID_ARGUMENT, "strict", "threshold");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelReturnsWrongRowCount_internalNamingModel() throws Exception {
    TestModel shortModel =
        TestModel.of(
            "short",
            (ctx, input) -> TestModel.floatColumn(ctx, "y", input.getRowCount() - 1, i -> 1f));
    try (InProcessPredict p = InProcessPredict.start(allocator(), shortModel)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("short", List.of(Batches.xStream(allocator(), 3))));

      assertCleanError(call.awaitStatus(), Status.Code.INTERNAL, "short", "rows");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelReturnsNull_internalNamingModel() throws Exception {
    TestModel nothing = TestModel.of("nothing", (ctx, input) -> null);
    try (InProcessPredict p = InProcessPredict.start(allocator(), nothing)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("nothing", List.of(Batches.xStream(allocator(), 3))));

      assertCleanError(call.awaitStatus(), Status.Code.INTERNAL, "nothing");
      p.assertServesGoodCalls();
    }
  }

  @Test
  void modelReturnsUndeclaredSchema_internalNamingModel() throws Exception {
    TestModel liar =
        TestModel.of(
                "liar",
                (ctx, input) -> TestModel.floatColumn(ctx, "z", input.getRowCount(), i -> 1f))
            .output(TestModel.floatSchema(true, "y"));
    try (InProcessPredict p = InProcessPredict.start(allocator(), liar)) {
      Collector<PredictStreamResponse> call =
          p.stream(messages("liar", List.of(Batches.xStream(allocator(), 3))));

      assertCleanError(call.awaitStatus(), Status.Code.INTERNAL, "liar", "schema");
      assertThat(countCompleteBatches(call.messages())).isZero();
      p.assertServesGoodCalls();
    }
  }

  // ---- Cancellation and deadlines ----

  @Test
  void clientCancelsMidMessage_callMemoryReleased() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 3, 5000);
      Collector<PredictStreamResponse> call = new Collector<>();
      StreamObserver<PredictStreamRequest> out = p.async().predictStream(call);
      out.onNext(header("scale", ""));
      // Everything but the tail of the big batch: the server holds a partly filled body.
      out.onNext(chunk(input.substring(0, input.size() - 1000)));
      awaitDecodedBatches(call, 1);
      assertThat(p.service.allocatedBytes()).isPositive();

      out.onError(Status.CANCELLED.withDescription("client gave up").asRuntimeException());

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.CANCELLED);
      p.awaitCallMemoryReleased();
      p.assertServesGoodCalls();
    }
  }

  @Test
  void deadlinePassesWhileClientStillUploading_deadlineExceededAndMemoryReleased()
      throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator())) {
      ByteString input = Batches.xStream(allocator(), 3, 5000);
      Collector<PredictStreamResponse> call = new Collector<>();
      StreamObserver<PredictStreamRequest> out =
          p.async().withDeadlineAfter(300, TimeUnit.MILLISECONDS).predictStream(call);
      out.onNext(header("scale", ""));
      out.onNext(chunk(input.substring(0, input.size() - 1000)));
      // The client never sends the rest.

      assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
      p.awaitCallMemoryReleased();
      p.assertServesGoodCalls();
    }
  }
}
