/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Request messages gRPC cannot parse, over real TCP (compression needs a real transport): each
 * call fails with a status naming the problem, nothing is logged per request at SEVERE, and the
 * server keeps serving.
 */
class MalformedRequestMessageTest {
  private static final int INBOUND_LIMIT = 1 << 20;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<LogRecord> severe = new ArrayList<>();
  private final List<LogRecord> stackTraces = new ArrayList<>();
  private final Handler severeCapture =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          synchronized (severe) {
            if (record.getLevel().intValue() >= Level.SEVERE.intValue()) {
              severe.add(record);
            }
            if (record.getLevel().intValue() >= Level.WARNING.intValue()
                && record.getThrown() != null) {
              stackTraces.add(record);
            }
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  private PredictServer server;
  private ManagedChannel channel;

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  @BeforeEach
  void start() throws Exception {
    Logger.getLogger("").addHandler(severeCapture);
    server =
        PredictServer.builder(allocator())
            .port(0)
            .bindAddress("127.0.0.1")
            .addModel(TestModel.scale("scale"))
            .limits(ServerLimits.builder().maxInboundMessageBytes(INBOUND_LIMIT).build())
            .build()
            .start();
    channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    } finally {
      Logger.getLogger("").removeHandler(severeCapture);
    }
  }

  private PredictionServiceGrpc.PredictionServiceBlockingStub blocking() {
    return PredictionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** An Arrow stream whose encoded size is far over the limit but which gzip shrinks far under. */
  private ByteString zerosOver(int bytes) {
    return Batches.xStream(allocator(), 0).concat(ByteString.copyFrom(new byte[bytes]));
  }

  private void assertServesAndLoggedNothingSevere() {
    PredictResponse ok = blocking().predict(request("scale", "", Batches.xStream(allocator(), 2)));
    assertThat(Batches.decode(allocator(), ok.getArrowIpc()).rowCounts()).containsExactly(2);
    synchronized (severe) {
      assertThat(severe).as("SEVERE log records").isEmpty();
    }
  }

  @Test
  void gzipUnaryRequestDecompressingPastTheLimit_isResourceExhaustedNamingIt() {
    PredictRequest request = request("scale", "", zerosOver(2 * INBOUND_LIMIT));

    Status status = statusOf(() -> blocking().withCompression("gzip").predict(request));

    assertCleanError(
        status,
        Status.Code.RESOURCE_EXHAUSTED,
        "decompresses to more than 1048576 bytes",
        "maxInboundMessageBytes=1048576");
    assertServesAndLoggedNothingSevere();
  }

  @Test
  void gzipStreamChunkDecompressingPastTheLimit_isResourceExhaustedNamingIt() throws Exception {
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<PredictStreamRequest> requests =
        PredictionServiceGrpc.newStub(channel)
            .withCompression("gzip")
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .predictStream(
                new StreamObserver<PredictStreamResponse>() {
                  @Override
                  public void onNext(PredictStreamResponse value) {}

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(Status.OK);
                  }
                });
    requests.onNext(InProcessPredict.header("scale", ""));
    requests.onNext(InProcessPredict.chunk(zerosOver(2 * INBOUND_LIMIT)));
    requests.onCompleted();

    Status status = ended.get(10, TimeUnit.SECONDS);

    assertCleanError(status, Status.Code.RESOURCE_EXHAUSTED, "maxInboundMessageBytes=1048576");
    assertServesAndLoggedNothingSevere();
  }

  @Test
  void unaryRequestOverTheInboundLimit_isResourceExhausted_andLogsNoStackTrace() {
    for (int i = 0; i < 5; i++) {
      PredictRequest request = request("scale", "", zerosOver(2 * INBOUND_LIMIT));

      Status status = statusOf(() -> blocking().predict(request));

      // gRPC's transport refuses it from the message's length prefix, before any of it is held.
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).contains(String.valueOf(INBOUND_LIMIT));
    }
    assertServesAndLoggedNothingSevere();
    synchronized (severe) {
      assertThat(stackTraces).as("warnings with a stack trace").isEmpty();
    }
  }

  @Test
  void bytesThatAreNotProtobuf_areInvalidArgument() {
    MethodDescriptor.Marshaller<byte[]> raw =
        new MethodDescriptor.Marshaller<>() {
          @Override
          public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
          }

          @Override
          public byte[] parse(InputStream stream) {
            return new byte[0];
          }
        };
    MethodDescriptor<byte[], byte[]> predict =
        PredictionServiceGrpc.getPredictMethod().toBuilder(raw, raw).build();
    // Field 1 announced as a message of 1,000 bytes, with three bytes behind it.
    byte[] garbage = {0x0a, (byte) 0xe8, 0x07, 1, 2, 3};
    ClientCall<byte[], byte[]> call =
        channel.newCall(predict, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));

    Status status = statusOf(() -> ClientCalls.blockingUnaryCall(call, garbage));

    assertCleanError(status, Status.Code.INVALID_ARGUMENT, "could not be read", "protobuf");
    assertServesAndLoggedNothingSevere();
  }
}
