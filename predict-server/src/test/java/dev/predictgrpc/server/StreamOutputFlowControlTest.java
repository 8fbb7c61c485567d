/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A chunk that packs many small batches is scored only as fast as the client reads the output,
 * so a client that stops reading holds the server's output to what it asked for.
 */
class StreamOutputFlowControlTest {
  private static final int BATCHES = 2000;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void manySmallBatchesInOneChunk_areScoredOnlyAsTheClientReads() throws Exception {
    AtomicInteger scored = new AtomicInteger();
    TestModel counting =
        TestModel.of(
            "counting",
            (ctx, input) -> {
              scored.incrementAndGet();
              return TestModel.doubleFirstColumn(ctx, input);
            });
    int[] rows = new int[BATCHES];
    Arrays.fill(rows, 1);
    ByteString input = Batches.xStream(arrow.allocator(), rows); // One chunk of 2,000 batches.
    try (InProcessPredict p =
        InProcessPredict.builder(arrow.allocator()).model(counting).threaded().start()) {
      AtomicReference<ClientCallStreamObserver<PredictStreamRequest>> call = new AtomicReference<>();
      List<ByteString> chunks = new ArrayList<>();
      CompletableFuture<Status> ended = new CompletableFuture<>();
      StreamObserver<PredictStreamRequest> requests =
          p.async()
              .predictStream(
                  new ClientResponseObserver<PredictStreamRequest, PredictStreamResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<PredictStreamRequest> stream) {
                      call.set(stream);
                      stream.disableAutoInboundFlowControl();
                    }

                    @Override
                    public void onNext(PredictStreamResponse response) {
                      if (response.hasChunk()) {
                        synchronized (chunks) {
                          chunks.add(response.getChunk());
                        }
                      }
                    }

                    @Override
                    public void onError(Throwable t) {
                      ended.complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                      ended.complete(Status.OK);
                    }
                  });
      call.get().request(1); // The response header only.
      requests.onNext(InProcessPredict.header("counting", ""));
      requests.onNext(InProcessPredict.chunk(input));
      requests.onCompleted();

      Thread.sleep(500);
      assertThat(scored.get()).as("scored while the client read nothing").isLessThan(10);

      call.get().request(20);
      Thread.sleep(500);
      assertThat(scored.get()).as("scored after the client asked for 20").isLessThan(40);
      assertThat(ended).isNotDone();

      call.get().request(Integer.MAX_VALUE);
      assertThat(ended.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
      assertThat(scored.get()).isEqualTo(BATCHES);
      synchronized (chunks) {
        assertThat(Batches.decode(arrow.allocator(), chunks).rowCounts()).hasSize(BATCHES);
      }
    }
  }
}
