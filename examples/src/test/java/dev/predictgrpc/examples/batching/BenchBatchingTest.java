/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A quick run of {@code bench-batching}: every figure printed, no call failed. */
class BenchBatchingTest {
  @Test
  void quickRun_printsTheTableForBothModels_withoutErrors() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    int status =
        BenchBatching.run(new String[] {"--callers", "16", "--seconds", "0.4"}, out, out);
    String text = bytes.toString(StandardCharsets.UTF_8);

    assertThat(status).as(text).isZero();
    assertThat(text).contains("calls/s", "p50 ms", "p99 ms", "mean batch");
    // Four rows per model: batching off and on, 16 callers and 1 caller; no errors anywhere.
    assertThat(text).containsPattern("slot +off +16 ").containsPattern("slot +on +16 ");
    assertThat(text).containsPattern("iris-onnx +off +1 ").containsPattern("iris-onnx +on +1 ");
    assertThat(text.lines().filter(l -> l.matches("^(slot|iris-onnx) .*")))
        .hasSize(8)
        .allSatisfy(line -> assertThat(line).endsWith(" 0"));
    assertThat(text).contains("slot: batching on/off", "iris-onnx: batching on/off", "targets:");
  }

  @Test
  void badArguments_exitStatus2WithUsage() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    assertThat(BenchBatching.run(new String[] {"--callers", "zero"}, out, out)).isEqualTo(2);
    assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("usage: bench-batching");
  }
}
