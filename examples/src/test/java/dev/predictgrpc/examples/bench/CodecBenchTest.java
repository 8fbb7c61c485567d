/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code bench-codec} prints a positive CPU time and allocation for every operation it times. */
class CodecBenchTest {
  private static final Pattern ROW =
      Pattern.compile("(?m)^codec\\s+(.+?)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9,]+)$");

  @Test
  void shortRun_timesEveryOperationForBothCallSizes() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int status =
        CodecBench.run(
            new String[] {"--calls", "200"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String report = bytes.toString(StandardCharsets.UTF_8);

    assertThat(status).as(report).isZero();
    Matcher rows = ROW.matcher(report);
    int count = 0;
    while (rows.find()) {
      count++;
      assertThat(Double.parseDouble(rows.group(3))).as(rows.group()).isPositive();
      assertThat(Long.parseLong(rows.group(4).replace(",", ""))).as(rows.group()).isPositive();
    }
    // Encode and decode, then Predict and bare gRPC, each for one row and for 100.
    assertThat(count).as(report).isEqualTo(4 * Bench.UNARY_ROWS.length);
    for (String what : List.of("encode request", "decode request", "Predict", "bare gRPC")) {
      assertThat(report).contains(what);
    }
  }

  @Test
  void unknownOption_printsUsageAndFails() throws Exception {
    assertThat(CodecBench.run(new String[] {"--bogus"}, new PrintStream(new ByteArrayOutputStream())))
        .isEqualTo(2);
  }
}
