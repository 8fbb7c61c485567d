/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.batching;

import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.examples.onnx.OnnxModel;
import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The {@code bench-batching} command: for a one-slot model (2 ms + 2 us per row) and for the
 * bundled ONNX iris model, measures throughput, p50 and p99 latency and the mean batch size with
 * dynamic batching off and on, under {@code --callers} concurrent single-row callers and under a
 * single caller. Server and client run in this JVM and talk over loopback TCP.
 */
public final class BenchBatching {
  static final String IRIS_RESOURCE = "/dev/predictgrpc/examples/iris/iris_gbt.onnx";

  private BenchBatching() {}

  /** The command's settings. */
  record Settings(int callers, Duration window, Batching batching, boolean onnx) {
    Duration warmup() {
      return Duration.ofMillis(Math.max(200, window.toMillis() / 5));
    }

    /** Single-caller runs are shorter: their latencies vary little. */
    Duration singleWindow() {
      return Duration.ofMillis(Math.max(200, window.toMillis() / 4));
    }
  }

  /** One table row: a model, batching off or on, and its two runs. */
  record Row(String model, boolean batched, LoadRun.Result loaded, LoadRun.Result single) {}

  /**
   * Runs the benchmark and prints the table to {@code out}. Options: {@code --callers N} (256),
   * {@code --seconds S} (10: each loaded run; single-caller runs take a quarter of it),
   * {@code --max-rows N} (256), {@code --max-delay-us N} (1000), {@code --no-onnx}.
   *
   * @return the exit status: 0, or 2 for bad arguments
   */
  public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    Settings settings;
    try {
      settings = parse(args);
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      err.println(
          "usage: bench-batching [--callers 256] [--seconds 10] [--max-rows 256]"
              + " [--max-delay-us 1000] [--no-onnx]");
      return 2;
    }
    out.printf(
        Locale.ROOT,
        "bench-batching: %d callers, %.1f s per loaded run (after %.1f s warm-up), %s;%n"
            + "server and client in one JVM over loopback TCP, %d CPUs%n%n",
        settings.callers(),
        settings.window().toMillis() / 1000.0,
        settings.warmup().toMillis() / 1000.0,
        settings.batching(),
        Runtime.getRuntime().availableProcessors());
    List<Row> rows = new ArrayList<>();
    rows.addAll(measure("slot", SlotModel::new, settings, out));
    if (settings.onnx()) {
      byte[] iris = irisModel();
      rows.addAll(
          measure("iris-onnx", () -> OnnxModel.builder("iris-onnx", iris).build(), settings, out));
    }
    printTable(rows, out);
    printTargets(rows, settings, out);
    return 0;
  }

  static Settings parse(String[] args) {
    int callers = 256;
    double seconds = 10;
    Batching.Builder batching = Batching.builder().maxRows(256).maxQueueDelay(Duration.ofMillis(1));
    boolean onnx = true;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--no-onnx")) {
        onnx = false;
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value after " + arg);
      }
      String value = args[++i];
      try {
        switch (arg) {
          case "--callers":
            callers = Integer.parseInt(value);
            if (callers <= 0) {
              throw new IllegalArgumentException("--callers: " + value + " (expected: > 0)");
            }
            break;
          case "--seconds":
            seconds = Double.parseDouble(value);
            if (!(seconds > 0)) {
              throw new IllegalArgumentException("--seconds: " + value + " (expected: > 0)");
            }
            break;
          case "--max-rows":
            batching.maxRows(Integer.parseInt(value));
            break;
          case "--max-delay-us":
            batching.maxQueueDelay(Duration.ofNanos(Long.parseLong(value) * 1000));
            break;
          default:
            throw new IllegalArgumentException("unknown option " + arg);
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(arg + ": not a number: " + value);
      }
    }
    batching.maxQueuedRequests(Math.max(1024, 2 * callers));
    return new Settings(callers, Duration.ofMillis((long) (seconds * 1000)), batching.build(), onnx);
  }

  private static List<Row> measure(
      String model, Supplier<ModelService> factory, Settings settings, PrintStream out)
      throws Exception {
    List<Row> rows = new ArrayList<>();
    for (boolean batched : new boolean[] {false, true}) {
      out.printf(Locale.ROOT, "running %s, batching %s ...%n", model, batched ? "on" : "off");
      try (BufferAllocator allocator = new RootAllocator()) {
        PredictServer.Builder builder =
            PredictServer.builder(allocator)
                .port(0)
                .bindAddress("127.0.0.1")
                .shutdownGracePeriod(Duration.ofSeconds(5));
        if (batched) {
          builder.addModel(factory.get(), settings.batching());
        } else {
          builder.addModel(factory.get());
        }
        try (PredictServer server = builder.build().start();
            PredictClient client =
                PredictClient.builder("127.0.0.1:" + server.port(), allocator)
                    .deadline(Duration.ofSeconds(60))
                    .build()) {
          LoadRun.Result loaded =
              LoadRun.run(
                  server,
                  client,
                  allocator,
                  model,
                  settings.callers(),
                  settings.warmup(),
                  settings.window());
          // After the loaded run, so the JIT has compiled the whole call path for both modes.
          LoadRun.Result single =
              LoadRun.run(
                  server, client, allocator, model, 1, settings.warmup(), settings.singleWindow());
          rows.add(new Row(model, batched, loaded, single));
        }
      }
    }
    return rows;
  }

  private static void printTable(List<Row> rows, PrintStream out) {
    out.println();
    out.printf(
        Locale.ROOT,
        "%-10s %-8s %8s %12s %10s %10s %11s %8s%n",
        "model", "batching", "callers", "calls/s", "p50 ms", "p99 ms", "mean batch", "errors");
    for (Row row : rows) {
      for (LoadRun.Result r : List.of(row.loaded(), row.single())) {
        out.printf(
            Locale.ROOT,
            "%-10s %-8s %8d %12.0f %10.2f %10.2f %11.1f %8d%n",
            row.model(),
            row.batched() ? "on" : "off",
            r.callers(),
            r.callsPerSecond(),
            r.p50Nanos() / 1e6,
            r.p99Nanos() / 1e6,
            r.meanBatch(),
            r.errors());
      }
    }
  }

  private static void printTargets(List<Row> rows, Settings settings, PrintStream out) {
    out.println();
    double delayMs = settings.batching().maxQueueDelay().toNanos() / 1e6;
    for (int i = 0; i + 1 < rows.size(); i += 2) {
      Row off = rows.get(i);
      Row on = rows.get(i + 1);
      double speedup = on.loaded().callsPerSecond() / off.loaded().callsPerSecond();
      double addedMs = (on.single().p50Nanos() - off.single().p50Nanos()) / 1e6;
      out.printf(
          Locale.ROOT,
          "%s: batching on/off: throughput x%.1f, p99 %.1f ms vs %.1f ms, mean batch %.1f rows;"
              + " a single caller's p50 changes by %+.2f ms%n",
          off.model(),
          speedup,
          on.loaded().p99Nanos() / 1e6,
          off.loaded().p99Nanos() / 1e6,
          on.loaded().meanBatch(),
          addedMs);
      if (off.model().equals("slot")) {
        out.printf(
            Locale.ROOT,
            "  targets: throughput >= 10x: %s; p99 below no batching: %s;"
                + " single caller adds <= the %.2f ms queue delay: %s%n",
            verdict(speedup >= 10),
            verdict(on.loaded().p99Nanos() < off.loaded().p99Nanos()),
            delayMs,
            verdict(addedMs <= delayMs));
      }
    }
  }

  private static String verdict(boolean met) {
    return met ? "met" : "MISSED";
  }

  private static byte[] irisModel() throws IOException {
    try (InputStream in = BenchBatching.class.getResourceAsStream(IRIS_RESOURCE)) {
      if (in == null) {
        throw new IOException("missing resource " + IRIS_RESOURCE);
      }
      return in.readAllBytes();
    }
  }
}
