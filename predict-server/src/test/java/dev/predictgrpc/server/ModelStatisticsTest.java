/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.api.v1.GetModelStatisticsRequest;
import dev.predictgrpc.api.v1.GetModelStatisticsResponse;
import dev.predictgrpc.api.v1.Histogram;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.ModelStatistics;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.HistogramPointData;
import io.opentelemetry.sdk.metrics.data.LongPointData;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Per-model statistics after a known workload, as the embedding API ({@link
 * PredictService#statistics()}), the {@code GetModelStatistics} RPC and OpenTelemetry metrics
 * report them.
 *
 * <p>The workload, on model {@code stats} (y = 2x, input declared as one float column x): a unary
 * call with batches of 3, 1 and 4 rows; a stream with batches of 2 and 2 rows; a unary call of 2
 * rows in a column the model does not take (INVALID_ARGUMENT, refused at its schema, so its rows
 * are never decoded or counted). So: 6 requests, 12 rows, 1 error, 5 model calls of 3, 1, 4, 2, 2
 * rows.
 */
class ModelStatisticsTest {
  private static final String MODEL = "stats";
  private static final Attributes MODEL_ATTRIBUTES =
      Attributes.of(
          AttributeKey.stringKey("model.name"), MODEL,
          AttributeKey.stringKey("model.version"), "1");

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  private static TestModel statsModel() {
    return TestModel.scale(MODEL).input(TestModel.floatSchema(true, "x"));
  }

  private void runWorkload(InProcessPredict p) {
    p.blocking().predict(request(MODEL, "", Batches.xStream(allocator(), 3, 1, 4)));
    Collector<PredictStreamResponse> stream =
        p.stream(
            InProcessPredict.messages(
                MODEL, Batches.split(Batches.xStream(allocator(), 2, 2), 64)));
    assertThat(stream.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
    Status invalid =
        statusOf(
            () ->
                p.blocking()
                    .predict(
                        request(
                            MODEL,
                            "",
                            Batches.floatStream(allocator(), true, new int[] {2}, "z"))));
    assertThat(invalid.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void knownWorkload_embeddingApiReportsExactFigures() throws Exception {
    try (InProcessPredict p = InProcessPredict.start(allocator(), statsModel())) {
      runWorkload(p);

      ModelStats stats = p.service.statistics(MODEL, "1");
      assertThat(stats.modelName()).isEqualTo(MODEL);
      assertThat(stats.modelVersion()).isEqualTo("1");
      assertThat(stats.batching()).isNull();
      assertThat(stats.requests()).isEqualTo(6);
      assertThat(stats.rows()).isEqualTo(12);
      assertThat(stats.errors()).isEqualTo(1);
      assertThat(stats.inFlight()).isZero();
      assertThat(stats.queued()).isZero();

      ModelStats.Histogram batches = stats.batchSize();
      assertThat(batches.count()).isEqualTo(5);
      assertThat(batches.sum()).isEqualTo(12);
      assertThat(batches.min()).isEqualTo(1);
      assertThat(batches.max()).isEqualTo(4);
      assertThat(batches.upperBounds()).startsWith(1L, 2L, 4L, 8L).endsWith(4096L);
      // Buckets <= 1, (1, 2], (2, 4]: sizes 1 | 2, 2 | 3, 4.
      assertThat(batches.counts().subList(0, 4)).containsExactly(1L, 2L, 2L, 0L);
      assertThat(batches.counts()).hasSize(batches.upperBounds().size() + 1);
      assertThat(batches.mean()).isEqualTo(2.4);
      assertThat(batches.percentile(100)).isEqualTo(4);

      assertThat(stats.queueTime().count()).as("unbatched: queue time 0").isEqualTo(5);
      assertThat(stats.queueTime().sum()).isZero();
      assertThat(stats.computeTime().count()).isEqualTo(5);
      assertThat(stats.computeTime().upperBounds()).startsWith(50L, 100L, 200L);

      // The good model is untouched, and listed second (by name).
      assertThat(p.service.statistics())
          .extracting(ModelStats::modelName)
          .containsExactly("scale", MODEL);
      assertThat(p.service.statistics("scale", "").requests()).isZero();
      assertThatThrownBy(() -> p.service.statistics("nope", ""))
          .isInstanceOf(PredictException.class)
          .satisfies(e -> assertThat(((PredictException) e).code()).isEqualTo(Status.Code.NOT_FOUND));
    }
  }

  @Test
  void knownWorkload_getModelStatisticsRpcReportsTheSameFigures() throws Exception {
    Batching batching = Batching.of(64, Duration.ofMillis(3));
    try (InProcessPredict p =
        InProcessPredict.builder(allocator())
            .model(statsModel())
            .model(TestModel.scale("other").version("1"), batching)
            .model(TestModel.scale("other").version("2"))
            .start()) {
      runWorkload(p);

      GetModelStatisticsResponse one =
          p.blocking().getModelStatistics(statisticsRequest(MODEL, "1"));
      assertThat(one.getModelsList()).hasSize(1);
      ModelStatistics stats = one.getModels(0);
      assertThat(stats.getModel()).isEqualTo(ModelSpec.newBuilder().setName(MODEL).setVersion("1").build());
      assertThat(stats.getRequests()).isEqualTo(6);
      assertThat(stats.getRows()).isEqualTo(12);
      assertThat(stats.getErrors()).isEqualTo(1);
      assertThat(stats.getInFlight()).isZero();
      assertThat(stats.hasBatching()).isFalse();
      Histogram batches = stats.getBatchSize();
      assertThat(batches.getCount()).isEqualTo(5);
      assertThat(batches.getSum()).isEqualTo(12);
      assertThat(batches.getMin()).isEqualTo(1);
      assertThat(batches.getMax()).isEqualTo(4);
      assertThat(batches.getCountsCount()).isEqualTo(batches.getUpperBoundsCount() + 1);
      assertThat(batches.getCountsList().subList(0, 3)).containsExactly(1L, 2L, 2L);
      assertThat(stats.getQueueMicros().getCount()).isEqualTo(5);
      assertThat(stats.getComputeMicros().getCount()).isEqualTo(5);

      // Empty name: every model and version, sorted; a name alone: all its versions.
      assertThat(p.blocking().getModelStatistics(GetModelStatisticsRequest.getDefaultInstance())
              .getModelsList())
          .extracting(m -> m.getModel().getName() + ":" + m.getModel().getVersion())
          .containsExactly("other:1", "other:2", "scale:1", "stats:1");
      List<ModelStatistics> other =
          p.blocking().getModelStatistics(statisticsRequest("other", "")).getModelsList();
      assertThat(other).extracting(m -> m.getModel().getVersion()).containsExactly("1", "2");
      assertThat(other.get(0).getBatching().getMaxRows()).isEqualTo(64);
      assertThat(other.get(0).getBatching().getMaxQueueDelayMicros()).isEqualTo(3000);
      assertThat(other.get(0).getBatching().getMaxQueuedRequests()).isEqualTo(1024);
      assertThat(other.get(1).hasBatching()).isFalse();

      assertCleanError(
          statusOf(() -> p.blocking().getModelStatistics(statisticsRequest("nope", ""))),
          Status.Code.NOT_FOUND,
          "nope");
      assertCleanError(
          statusOf(() -> p.blocking().getModelStatistics(statisticsRequest(MODEL, "9"))),
          Status.Code.NOT_FOUND,
          "version '9'");
    }
  }

  @Test
  void getModelStatistics_leavesOutModelsTheCallerMayNotCall() throws Exception {
    try (InProcessPredict p =
        InProcessPredict.builder(allocator())
            .model(TestModel.scale("secret"))
            .authorizer((principal, model) -> !model.equals("secret"))
            .start()) {
      assertThat(p.blocking().getModelStatistics(GetModelStatisticsRequest.getDefaultInstance())
              .getModelsList())
          .extracting(m -> m.getModel().getName())
          .containsExactly("scale");
      assertCleanError(
          statusOf(() -> p.blocking().getModelStatistics(statisticsRequest("secret", ""))),
          Status.Code.PERMISSION_DENIED,
          "secret");
    }
  }

  @Test
  void knownWorkload_openTelemetryMetricsCarryTheSameFigures() throws Exception {
    InMemoryMetricReader reader = InMemoryMetricReader.create();
    try (SdkMeterProvider meters = SdkMeterProvider.builder().registerMetricReader(reader).build();
        OpenTelemetrySdk sdk = OpenTelemetrySdk.builder().setMeterProvider(meters).build();
        InProcessPredict p =
            InProcessPredict.builder(allocator())
                .model(statsModel(), Batching.of(64, Duration.ZERO))
                .openTelemetry(sdk)
                .start()) {
      runWorkload(p);
      Collection<MetricData> metrics = reader.collectAllMetrics();

      assertThat(longSum(metrics, "predictgrpc.model.requests")).isEqualTo(6);
      assertThat(longSum(metrics, "predictgrpc.model.rows")).isEqualTo(12);
      assertThat(longSum(metrics, "predictgrpc.model.errors")).isEqualTo(1);
      assertThat(longSum(metrics, "predictgrpc.model.in_flight")).isZero();
      assertThat(longSum(metrics, "predictgrpc.model.queued")).isZero();
      HistogramPointData batches = histogram(metrics, "predictgrpc.model.batch.size");
      assertThat(batches.getCount()).isEqualTo(5);
      assertThat(batches.getSum()).isEqualTo(12);
      assertThat(batches.getBoundaries()).startsWith(1.0, 2.0, 4.0);
      assertThat(histogram(metrics, "predictgrpc.model.queue.duration").getCount()).isEqualTo(5);
      HistogramPointData compute = histogram(metrics, "predictgrpc.model.compute.duration");
      assertThat(compute.getCount()).isEqualTo(5);
      assertThat(compute.getBoundaries().get(0)).isEqualTo(50e-6);
      assertThat(metric(metrics, "predictgrpc.model.compute.duration").getUnit()).isEqualTo("s");
    }
  }

  static GetModelStatisticsRequest statisticsRequest(String name, String version) {
    return GetModelStatisticsRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(name).setVersion(version))
        .build();
  }

  static MetricData metric(Collection<MetricData> metrics, String name) {
    return metrics.stream()
        .filter(m -> m.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no metric " + name + " in " + names(metrics)));
  }

  private static List<String> names(Collection<MetricData> metrics) {
    return metrics.stream().map(MetricData::getName).sorted().toList();
  }

  /** The value of a long sum (counter or up-down counter) for model {@code stats:1}. */
  static long longSum(Collection<MetricData> metrics, String name) {
    return metric(metrics, name).getLongSumData().getPoints().stream()
        .filter(point -> point.getAttributes().equals(MODEL_ATTRIBUTES))
        .mapToLong(LongPointData::getValue)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no point of " + name + " for " + MODEL));
  }

  /** The point of a histogram for model {@code stats:1}. */
  static HistogramPointData histogram(Collection<MetricData> metrics, String name) {
    return metric(metrics, name).getHistogramData().getPoints().stream()
        .filter(point -> point.getAttributes().equals(MODEL_ATTRIBUTES))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no point of " + name + " for " + MODEL));
  }
}
