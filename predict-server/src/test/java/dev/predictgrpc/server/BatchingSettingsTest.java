/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The {@link Batching} value type and the {@link ModelStats.Histogram} estimates. */
class BatchingSettingsTest {
  @Test
  void defaults_andFactory() {
    Batching defaults = Batching.builder().build();
    assertThat(defaults.maxRows()).isEqualTo(256);
    assertThat(defaults.maxQueueDelay()).isEqualTo(Duration.ofMillis(1));
    assertThat(defaults.maxQueuedRequests()).isEqualTo(1024);

    Batching of = Batching.of(64, Duration.ofMillis(5));
    assertThat(of.maxRows()).isEqualTo(64);
    assertThat(of.maxQueueDelay()).isEqualTo(Duration.ofMillis(5));
    assertThat(of.toBuilder().build()).isEqualTo(of).hasSameHashCodeAs(of);
    assertThat(of.toString()).contains("maxRows=64", "PT0.005S", "maxQueuedRequests=1024");
  }

  @Test
  void invalidSettings_rejectedNamingTheSetting() {
    assertThatThrownBy(() -> Batching.builder().maxRows(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxRows: 0 (expected: > 0)");
    assertThatThrownBy(() -> Batching.builder().maxQueueDelay(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("maxQueueDelay: PT-0.001S");
    assertThatThrownBy(() -> Batching.builder().maxQueueDelay(Duration.ofSeconds(11)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Batching.builder().maxQueuedRequests(-3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxQueuedRequests: -3 (expected: > 0)");
    assertThatThrownBy(() -> Batching.builder().maxQueueDelay(null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void histogram_percentilesInterpolateWithinTheBucket() {
    // Bounds 10, 20, 40; values: four in (10, 20], i.e. 11..20, and one of 100 above 40.
    ModelStats.Histogram h =
        new ModelStats.Histogram(new long[] {10, 20, 40}, new long[] {0, 4, 0, 1}, 170, 11, 100);
    assertThat(h.count()).isEqualTo(5);
    assertThat(h.mean()).isEqualTo(34.0);
    assertThat(h.percentile(20)).isBetween(11L, 20L);
    assertThat(h.percentile(80)).isEqualTo(20);
    assertThat(h.percentile(100)).isEqualTo(100);
    assertThat(h.percentile(99)).isBetween(41L, 100L);

    ModelStats.Histogram ones =
        new ModelStats.Histogram(new long[] {1, 2}, new long[] {7, 0, 0}, 7, 1, 1);
    assertThat(ones.percentile(1)).isEqualTo(1);
    assertThat(ones.percentile(50)).isEqualTo(1);

    ModelStats.Histogram empty =
        new ModelStats.Histogram(new long[] {1}, new long[] {0, 0}, 0, Long.MAX_VALUE, 0);
    assertThat(empty.percentile(50)).isZero();
    assertThat(empty.min()).isZero();
    assertThatThrownBy(() -> empty.percentile(0)).isInstanceOf(IllegalArgumentException.class);
  }
}
