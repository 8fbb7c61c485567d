/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Per-model health over real TCP follows the model's lifecycle. */
class ModelHealthTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static String check(ManagedChannel channel, String service) {
    try {
      return HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService(service).build())
          .getStatus()
          .name();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode().name(); // NOT_FOUND for a name health does not know.
    }
  }

  @Test
  void addedModelTurnsServing_drainingNotServing_removedUnknown() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    TestModel blocking =
        TestModel.of(
                "held",
                (ctx, input) -> {
                  release.await(10, TimeUnit.SECONDS);
                  return TestModel.doubleFirstColumn(ctx, input);
                })
            .version("1");
    try (PredictServer server =
        PredictServer.builder(arrow.allocator())
            .port(0)
            .bindAddress("127.0.0.1")
            .addModel(TestModel.scale("scale"))
            .build()
            .start()) {
      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", server.port(), InsecureChannelCredentials.create())
              .build();
      try {
        assertThat(check(channel, "held")).isEqualTo(Status.Code.NOT_FOUND.name());

        server.models().add(blocking);
        assertThat(check(channel, "held")).isEqualTo(ServingStatus.SERVING.name());

        // A call in flight keeps the removed version draining.
        var call =
            java.util.concurrent.CompletableFuture.runAsync(
                () ->
                    dev.predictgrpc.api.v1.PredictionServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .predict(
                            InProcessPredict.request(
                                "held", "", Batches.xStream(arrow.allocator(), 1))));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (blocking.batches.get() == 0 && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        var closed = server.models().remove("held", "1");
        assertThat(check(channel, "held")).isEqualTo(ServingStatus.NOT_SERVING.name());

        release.countDown();
        call.get(10, TimeUnit.SECONDS);
        closed.get(10, TimeUnit.SECONDS);
        assertThat(check(channel, "held")).isEqualTo(Status.Code.NOT_FOUND.name());
        assertThat(check(channel, "scale")).isEqualTo(ServingStatus.SERVING.name());
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}
