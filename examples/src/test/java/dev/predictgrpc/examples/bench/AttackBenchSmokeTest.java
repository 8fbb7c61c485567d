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
 * Runs a short {@code attack} benchmark for real (a child server JVM on loopback) and checks that
 * every row is printed with the well-behaved client's figures. It asserts no performance: the
 * figures of a shared machine are too noisy for that, and the hostile-client tests assert the
 * behaviour.
 */
class AttackBenchSmokeTest {
  @Test
  void shortRun_printsARowPerAttackWithTheClientsFigures() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int status =
        AttackBench.run(
            new String[] {"--seconds", "0.5", "--attacks", "baseline,declared-sizes,rapid-reset"},
            new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String report = bytes.toString(StandardCharsets.UTF_8);

    assertThat(status).as(report).isZero();
    assertThat(report).contains("maxServerMemoryBytes=64 MiB", "-XX:MaxDirectMemorySize=256m");
    for (String attack : new String[] {"baseline", "declared-sizes", "rapid-reset"}) {
      // attack, p50, p99, errors/calls, then the server's columns.
      Matcher row =
          Pattern.compile("(?m)^" + attack + "\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9]+)/([0-9]+) \\|")
              .matcher(report);
      assertThat(row.find()).as("a row for %s in%n%s", attack, report).isTrue();
      assertThat(Integer.parseInt(row.group(4))).as("%s: client calls", attack).isPositive();
    }
    assertThat(report).containsPattern("declared-sizes\\s+attacker: .*INVALID_ARGUMENT");
  }
}
