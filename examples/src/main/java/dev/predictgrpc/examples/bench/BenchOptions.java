/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** The {@code bench} command line; see {@link Bench#USAGE} and the README. */
record BenchOptions(
    long rows,
    long restRows,
    int batchRows,
    int repeats,
    long memoryRows,
    double unarySeconds,
    double warmupSeconds,
    int inFlight,
    Set<String> sections,
    List<Transport> transports,
    List<String> childFlags,
    int chunkBytes,
    int flowWindow,
    long linkMegabytes,
    List<String> linkRates,
    boolean quick) {

  /** Parses the command line; null means {@code --help}. */
  static @Nullable BenchOptions parse(String[] args) {
    boolean quick = Arrays.asList(args).contains("--quick");
    long rows = quick ? 262_144 : 2_000_000;
    long restRows = -1;
    int batchRows = 65_536;
    int repeats = quick ? 1 : 3;
    long memoryRows = quick ? 131_072 : 2_000_000;
    double unarySeconds = quick ? 0.3 : 1.5;
    double warmupSeconds = quick ? 0.3 : 3;
    int inFlight = 64;
    Set<String> sections = new LinkedHashSet<>(List.of("stream", "unary", "memory"));
    List<Transport> transports = new ArrayList<>();
    for (Transport transport : Transport.values()) {
      if (transport.byDefault()) {
        transports.add(transport);
      }
    }
    List<String> childFlags = new ArrayList<>();
    int chunkBytes = 0;
    int flowWindow = 0;
    long linkMegabytes = quick ? 64 : 1024;
    List<String> linkRates = List.of("1gbit", "100mbit");
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--quick":
          break;
        case "--help":
        case "-h":
          return null;
        case "--rows":
          rows = positiveLong(arg, value(args, ++i));
          break;
        case "--rest-rows":
          restRows = positiveLong(arg, value(args, ++i));
          break;
        case "--batch-rows":
          batchRows = (int) Math.min(Integer.MAX_VALUE, positiveLong(arg, value(args, ++i)));
          if (batchRows < Bench.UNARY_ROWS[Bench.UNARY_ROWS.length - 1]) {
            // Unary requests are cut from the first batch.
            throw new IllegalArgumentException(
                "--batch-rows: " + batchRows + " (expected: >= "
                    + Bench.UNARY_ROWS[Bench.UNARY_ROWS.length - 1] + ")");
          }
          break;
        case "--repeats":
          repeats = (int) Math.min(1000, positiveLong(arg, value(args, ++i)));
          break;
        case "--memory-rows":
          memoryRows = positiveLong(arg, value(args, ++i));
          break;
        case "--unary-seconds":
          unarySeconds = Double.parseDouble(value(args, ++i));
          if (!(unarySeconds > 0)) {
            throw new IllegalArgumentException(
                "--unary-seconds: " + unarySeconds + " (expected: > 0)");
          }
          break;
        case "--warmup-seconds":
          warmupSeconds = Double.parseDouble(value(args, ++i));
          if (!(warmupSeconds >= 0)) {
            throw new IllegalArgumentException(
                "--warmup-seconds: " + warmupSeconds + " (expected: >= 0)");
          }
          break;
        case "--in-flight":
          inFlight = (int) Math.min(10_000, positiveLong(arg, value(args, ++i)));
          break;
        case "--sections":
          sections = new LinkedHashSet<>(List.of(value(args, ++i).split(",")));
          for (String section : sections) {
            if (!List.of("stream", "unary", "memory", "link").contains(section)) {
              throw new IllegalArgumentException(
                  "--sections: " + section + " (expected: stream, unary, memory, link)");
            }
          }
          break;
        case "--transports":
          transports = new ArrayList<>();
          for (String label : value(args, ++i).split(",")) {
            transports.add(Transport.parse(label));
          }
          if (!transports.contains(Transport.PREDICT_GRPC)) {
            transports.add(0, Transport.PREDICT_GRPC); // every ratio is against it
          }
          break;
        case "--chunk-bytes":
          chunkBytes = (int) Math.min(Integer.MAX_VALUE, positiveLong(arg, value(args, ++i)));
          break;
        case "--flow-window":
          flowWindow = (int) Math.min(Integer.MAX_VALUE, positiveLong(arg, value(args, ++i)));
          break;
        case "--link-mb":
          linkMegabytes = positiveLong(arg, value(args, ++i));
          break;
        case "--link-rates":
          linkRates = List.of(value(args, ++i).split(","));
          for (String rate : linkRates) {
            if (!rate.matches("[0-9]+(kbit|mbit|gbit)")) {
              throw new IllegalArgumentException(
                  "--link-rates: " + rate + " (expected: tc rates such as 100mbit, 1gbit)");
            }
          }
          break;
        case "--child-flags":
          childFlags.addAll(List.of(value(args, ++i).trim().split("\\s+")));
          childFlags.removeIf(String::isEmpty);
          break;
        default:
          throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    if (restRows < 0) {
      restRows = Math.max(Math.min(rows, batchRows), rows / 4);
    }
    transports.sort(null);
    return new BenchOptions(
        rows,
        restRows,
        batchRows,
        repeats,
        memoryRows,
        unarySeconds,
        warmupSeconds,
        inFlight,
        sections,
        List.copyOf(new LinkedHashSet<>(transports)),
        List.copyOf(childFlags),
        chunkBytes,
        flowWindow,
        linkMegabytes,
        linkRates,
        quick);
  }

  private static String value(String[] args, int i) {
    if (i >= args.length) {
      throw new IllegalArgumentException(args[i - 1] + " needs a value");
    }
    return args[i];
  }

  private static long positiveLong(String option, String value) {
    long parsed;
    try {
      parsed = Long.parseLong(value.replace("_", "").replace(",", ""));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + ": " + value + " (expected: a number)");
    }
    if (parsed <= 0) {
      throw new IllegalArgumentException(option + ": " + value + " (expected: > 0)");
    }
    return parsed;
  }
}
