/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PredictOptionsTest {
  @Test
  void withers_returnNewOptions_andLeaveTheOriginalAlone() {
    PredictOptions base = PredictOptions.defaults();
    PredictOptions set =
        base.withDeadline(Duration.ofSeconds(1)).withVersion("2").withParameter("k", "v");
    assertThat(base.deadline()).isNull();
    assertThat(base.version()).isEmpty();
    assertThat(base.parameters()).isEmpty();
    assertThat(set.deadline()).isEqualTo(Duration.ofSeconds(1));
    assertThat(set.version()).isEqualTo("2");
    assertThat(set.parameters()).isEqualTo(Map.of("k", "v"));
    assertThat(set).isEqualTo(PredictOptions.defaults().withVersion("2")
        .withParameter("k", "v").withDeadline(Duration.ofSeconds(1)));
  }

  @Test
  void apply_replacesTheVersion_andAddsParametersOverTheModelRefs() {
    ModelRef ref = ModelRef.of("m").withVersion("1").withParameter("a", "1").withParameter("b", "1");
    assertThat(PredictOptions.defaults().apply(ref)).isEqualTo(ref);
    ModelRef applied = PredictOptions.defaults().withVersion("3").withParameter("b", "2").apply(ref);
    assertThat(applied.version()).isEqualTo("3");
    assertThat(applied.parameters()).isEqualTo(Map.of("a", "1", "b", "2"));
  }

  @Test
  void nonPositiveDeadline_isRejected() {
    assertThatThrownBy(() -> PredictOptions.defaults().withDeadline(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("deadline: PT0S (expected: > 0)");
    assertThatThrownBy(() -> PredictOptions.defaults().withDeadline(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
