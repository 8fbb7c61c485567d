/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A two-second run of {@code swap-bench}: both rows printed, versions really swapped, no call
 * failed. The latency target is not checked: a shared machine is too noisy for that.
 */
class SwapBenchTest {
  @Test
  void quickRun_swapsVersionsWithoutAFailedCall_andPrintsBothRuns() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    int status =
        SwapBench.run(
            new String[] {
              "--seconds",
              "1",
              "--threads",
              "2",
              "--swap-every",
              "0.25",
              "--poll-interval",
              "0.05",
              "--warmup-seconds",
              "0"
            },
            out,
            out);
    String text = bytes.toString(StandardCharsets.UTF_8);

    assertThat(status).as(text).isZero();
    assertThat(text).contains("calls/s", "p50 ms", "p99 ms", "max ms", "targets:");
    // Calls, errors (0) and at least one version in both rows.
    assertThat(text).containsPattern("with swaps +[1-9][0-9]* +[0-9]+ +0 ");
    assertThat(text).containsPattern("without swaps +[1-9][0-9]* +[0-9]+ +0 ");
    Matcher swaps = Pattern.compile("swaps: (\\d+) files written, (\\d+) loads").matcher(text);
    assertThat(swaps.find()).as(text).isTrue();
    assertThat(Integer.parseInt(swaps.group(1))).isGreaterThanOrEqualTo(2);
    assertThat(Integer.parseInt(swaps.group(2))).isGreaterThanOrEqualTo(1);
    assertThat(text).doesNotContain("error:");
  }

  @Test
  void badArguments_exitStatus2WithUsage() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    assertThat(SwapBench.run(new String[] {"--threads", "0"}, out, out)).isEqualTo(2);
    assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("usage: swap-bench");
  }
}
