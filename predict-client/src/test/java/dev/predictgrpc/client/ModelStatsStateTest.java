/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The client sees a replaced version as DRAINING while a call still runs on it. */
class ModelStatsStateTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Echoes its input; version "1" waits for {@code release} first. */
  static final class HeldModel extends ModelService {
    private final String version;
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);

    HeldModel(String version) {
      this.version = version;
    }

    @Override
    public String name() {
      return "held";
    }

    @Override
    public String version() {
      return version;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) throws Exception {
      if (version.equals("1")) {
        entered.countDown();
        release.await(30, TimeUnit.SECONDS);
      }
      return input;
    }
  }

  @Test
  void replacedVersion_isDrainingWhileACallRunsOnIt_thenGone() throws Exception {
    HeldModel one = new HeldModel("1");
    try (InProcessHarness harness = new InProcessHarness(arrow.allocator(), one);
        VectorSchemaRoot input =
            Batches.builder(arrow.allocator()).int32("x", new int[] {1}).build()) {
      PredictClient client = harness.client;
      CompletableFuture<String> held =
          CompletableFuture.supplyAsync(
              () -> {
                try (Prediction p = client.predict("held", input, PredictOptions.defaults())) {
                  return p.modelVersion();
                }
              });
      assertThat(one.entered.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(client.statistics())
          .singleElement()
          .extracting(ModelStats::state)
          .isEqualTo(ModelStats.State.SERVING);

      harness
          .service
          .models()
          .versionPolicy("held", dev.predictgrpc.server.VersionPolicy.latest(1));
      harness.service.models().add(new HeldModel("2"));

      assertThat(client.statistics())
          .extracting(s -> s.modelVersion() + " " + s.state())
          .containsExactly("1 DRAINING", "2 SERVING");
      one.release.countDown();
      assertThat(held.get(30, TimeUnit.SECONDS)).isEqualTo("1");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (client.statistics().size() > 1 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(client.statistics())
          .extracting(s -> s.modelVersion() + " " + s.state())
          .containsExactly("2 SERVING");
    }
  }
}
