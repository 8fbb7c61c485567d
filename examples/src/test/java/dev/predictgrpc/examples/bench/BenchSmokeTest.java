/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Runs {@code bench --quick} for real (child JVMs on loopback) and checks that the report is
 * complete and every figure is a sane positive number. It does not check the targets: shared
 * machines are too noisy for that.
 */
class BenchSmokeTest {
  private static final String NUMBER = "([0-9][0-9,]*(?:\\.[0-9]+)?)";

  @Test
  void quickRun_printsEveryRowWithPositiveFigures() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int status =
        Bench.run(new String[] {"--quick"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String report = bytes.toString(StandardCharsets.UTF_8);

    assertThat(status).as(report).isZero();
    assertThat(report).contains("JDK:", "cores", "flags:");
    for (String model : List.of("echo", "score")) {
      for (String transport : List.of("predict-grpc", "flight", "grpc-bytes", "rest-json\\*")) {
        List<Double> figures =
            figures(report, "stream\\s+" + model + "\\s+" + transport + "\\s+", 2);
        assertThat(figures).as(model + " " + transport + " MB/s, rows/s").allMatch(v -> v > 0);
      }
    }
    for (String transport : List.of("predict-grpc", "grpc-bytes", "rest-json")) {
      List<Double> figures = figures(report, "unary\\s+" + transport + "\\s+", 2);
      assertThat(figures).as(transport + " p50, p99").allMatch(v -> v > 0);
    }
    // The 100-row calls have a table of their own, after the one-row table.
    assertThat(report).contains("== Unary: 100 row(s)");
    String hundredRows = report.substring(report.indexOf("== Unary: 100 row(s)"));
    for (String transport : List.of("predict-grpc", "grpc-bytes", "rest-json")) {
      List<Double> figures = figures(hundredRows, "unary\\s+" + transport + "\\s+", 2);
      assertThat(figures).as(transport + " p50, p99 of 100 rows").allMatch(v -> v > 0);
    }
    for (String rows : List.of("131,072", "1,310,720")) {
      List<Double> figures =
          figures(report, "memory\\s+predict-grpc\\s+echo\\s+" + rows + "\\s+", 5);
      assertThat(figures).as("memory at " + rows + " rows").allMatch(v -> v > 0);
    }
    assertThat(report).containsPattern("memory\\s+predict-grpc\\s+echo\\s+10x/1x");
    List<String> targets = lines(report, "target ");
    assertThat(targets).hasSize(11);
    // A quick run may see no collection at all on the bare server: that ratio is then n/a.
    assertThat(targets)
        .allMatch(
            line ->
                line.endsWith("MET")
                    || line.endsWith("MISSED")
                    || (line.contains("server GCs") && line.endsWith("n/a")));
  }

  /** The first {@code count} numbers after {@code prefix} on the line that starts with it. */
  private static List<Double> figures(String report, String prefix, int count) {
    StringBuilder pattern = new StringBuilder("(?m)^" + prefix);
    for (int i = 0; i < count; i++) {
      pattern.append(i == 0 ? "" : "\\s+").append(NUMBER);
    }
    Matcher matcher = Pattern.compile(pattern.toString()).matcher(report);
    assertThat(matcher.find()).as("a line matching " + pattern + " in\n" + report).isTrue();
    List<Double> values = new ArrayList<>();
    for (int i = 1; i <= count; i++) {
      values.add(Double.parseDouble(matcher.group(i).replace(",", "")));
    }
    return values;
  }

  private static List<String> lines(String report, String prefix) {
    List<String> lines = new ArrayList<>();
    for (String line : report.split("\n")) {
      if (line.startsWith(prefix)) {
        lines.add(line.strip());
      }
    }
    return lines;
  }
}
