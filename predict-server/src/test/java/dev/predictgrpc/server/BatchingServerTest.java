/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Batching, statistics and OpenTelemetry on a {@link PredictServer} over loopback TCP. */
class BatchingServerTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  private static ManagedChannel channelTo(PredictServer server) {
    return Grpc.newChannelBuilderForAddress(
            "127.0.0.1", server.port(), InsecureChannelCredentials.create())
        .build();
  }

  @Test
  void openTelemetry_recordsGrpcAndModelMetrics_statisticsOnTheServerObject() throws Exception {
    InMemoryMetricReader reader = InMemoryMetricReader.create();
    ExecutorService callers = Executors.newFixedThreadPool(4);
    try (SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(reader).build();
        OpenTelemetrySdk sdk = OpenTelemetrySdk.builder().setMeterProvider(meters).build();
        PredictServer server =
            PredictServer.builder(allocator())
                .port(0)
                .bindAddress("127.0.0.1")
                .addModel(
                    TestModel.scale("stats"),
                    Batching.builder().maxRows(4).maxQueueDelay(Duration.ofSeconds(10)).build())
                .openTelemetry(sdk)
                .build()
                .start()) {
      ManagedChannel channel = channelTo(server);
      try {
        PredictionServiceGrpc.PredictionServiceBlockingStub stub =
            PredictionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        // Four single-row callers fill maxRows = 4: one model call.
        List<Future<PredictResponse>> responses = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          responses.add(
              callers.submit(
                  () -> stub.predict(request("stats", "", Batches.xStream(allocator(), 1)))));
        }
        for (Future<PredictResponse> response : responses) {
          assertThat(
                  Batches.decode(allocator(), response.get(10, TimeUnit.SECONDS).getArrowIpc())
                      .batches()
                      .get(0)
                      .column("y"))
              .containsExactly(0f);
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }

      ModelStats stats = server.statistics().get(0);
      assertThat(stats.modelName()).isEqualTo("stats");
      assertThat(stats.requests()).isEqualTo(4);
      assertThat(stats.batchSize().count()).isEqualTo(1);
      assertThat(stats.batchSize().sum()).isEqualTo(4);

      Collection<MetricData> metrics = reader.collectAllMetrics();
      MetricData callDuration = ModelStatisticsTest.metric(metrics, "grpc.server.call.duration");
      assertThat(callDuration.getHistogramData().getPoints())
          .anySatisfy(
              point -> {
                assertThat(point.getAttributes().get(AttributeKey.stringKey("grpc.method")))
                    .isEqualTo("predictgrpc.v1.PredictionService/Predict");
                assertThat(point.getCount()).isEqualTo(4);
              });
      assertThat(ModelStatisticsTest.longSum(metrics, "predictgrpc.model.requests")).isEqualTo(4);
      assertThat(ModelStatisticsTest.histogram(metrics, "predictgrpc.model.batch.size").getSum())
          .isEqualTo(4);
    } finally {
      callers.shutdownNow();
    }
    assertThat(allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void close_cancelsRequestsStillQueuedAfterTheGracePeriod_andReleasesEverything()
      throws Exception {
    TestModel model = TestModel.scale("slow-to-fill");
    PredictServer server =
        PredictServer.builder(allocator())
            .port(0)
            .bindAddress("127.0.0.1")
            .shutdownGracePeriod(Duration.ofMillis(200))
            .addModel(model, Batching.of(100, Duration.ofSeconds(10)))
            .build()
            .start();
    ManagedChannel channel = channelTo(server);
    ExecutorService caller = Executors.newSingleThreadExecutor();
    try {
      Future<Status> queued =
          caller.submit(
              () -> {
                try {
                  PredictionServiceGrpc.newBlockingStub(channel)
                      .withDeadlineAfter(20, TimeUnit.SECONDS)
                      .predict(request("slow-to-fill", "", Batches.xStream(allocator(), 1)));
                  return Status.OK;
                } catch (StatusRuntimeException e) {
                  return e.getStatus();
                }
              });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (server.statistics().get(0).queued() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(server.statistics().get(0).queued()).isEqualTo(1);

      long start = System.nanoTime();
      server.close();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(queued.get(5, TimeUnit.SECONDS).getCode())
          .isIn(Status.Code.CANCELLED, Status.Code.UNAVAILABLE);
      assertThat(model.batches.get()).as("model calls").isZero();
      assertThat(model.closed).isTrue();
    } finally {
      caller.shutdownNow();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    }
    assertThat(allocator().getChildAllocators()).isEmpty();
    assertThat(allocator().getAllocatedMemory()).isZero();
  }
}
