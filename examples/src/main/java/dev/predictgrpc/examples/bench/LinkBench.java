/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The {@code link} section: where compressed bodies pay. A network namespace whose loopback is
 * rate-limited with {@code tc tbf} (each rate in {@code --link-rates}) holds a server JVM and a
 * client JVM; the client streams the realistic and the random-float table ({@code --link-mb} each)
 * through the {@code link-score} model over predict-grpc uncompressed, LZ4_FRAME and ZSTD (both
 * ways) and over Flight DoExchange, and the report gives MB/s of table moved, CPU seconds per GB
 * (both processes) and the compression ratio of the table's IPC bytes.
 *
 * <p>Needs root and the {@code ip} and {@code tc} tools; without them it prints why and skips. The
 * namespace is deleted when the section ends, fails, or the JVM is stopped (a shutdown hook).
 */
final class LinkBench {
  /** Batches streamed before each measured run, so both JVMs have compiled the path. */
  private static final int WARMUP_BATCHES = 24;

  private static final List<String> CODECS = List.of("NONE", "LZ4_FRAME", "ZSTD");
  private static final List<String> TABLES = List.of("realistic", "random");

  private final BenchOptions options;
  private final List<String> childFlags;
  private final PrintStream out;
  private final PrintStream progress;

  LinkBench(BenchOptions options, List<String> childFlags, PrintStream out, PrintStream progress) {
    this.options = options;
    this.childFlags = childFlags;
    this.out = out;
    this.progress = progress;
  }

  /** One measured stream. */
  record Run(
      String table,
      String transport,
      String codec,
      long tableBytes,
      double seconds,
      ProcessStats client,
      ProcessStats server,
      double ratio) {
    double megabytesPerSecond() {
      return tableBytes / 1e6 / seconds;
    }

    double cpuSecondsPerGigabyte() {
      return (client.cpuNanos() + server.cpuNanos()) / 1e9 / (tableBytes / 1e9);
    }
  }

  void run() throws Exception {
    String missing = missingPrerequisite();
    if (missing != null) {
      out.printf("%n== Rate-limited link: skipped (%s)%n", missing);
      return;
    }
    Map<String, List<Run>> byRate = new LinkedHashMap<>();
    for (String rate : options.linkRates()) {
      byRate.put(rate, runAt(rate));
      print(rate, byRate.get(rate));
    }
    printTargets(byRate);
  }

  /** Why the section cannot run here, or null if it can. */
  private static @Nullable String missingPrerequisite() {
    try {
      if (!exec(List.of("id", "-u"), false).trim().equals("0")) {
        return "creating a network namespace needs root";
      }
      exec(List.of("ip", "netns", "list"), true);
      exec(List.of("tc", "-Version"), true);
    } catch (IOException e) {
      return "needs the ip and tc tools (iproute2): " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
    return null;
  }

  private List<Run> runAt(String rate) throws Exception {
    String namespace = "predictgrpc-bench-" + ProcessHandle.current().pid() + "-" + rate;
    Thread cleanup = new Thread(() -> deleteNamespace(namespace), "delete-" + namespace);
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      exec(List.of("ip", "netns", "add", namespace), true);
      exec(List.of("ip", "-n", namespace, "link", "set", "lo", "up"), true);
      // The bucket must hold at least a 64 KiB loopback packet, and a few ms of the rate.
      String burst = rate.endsWith("gbit") ? "1mb" : "256kb";
      exec(
          List.of(
              "ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", "lo", "root", "tbf",
              "rate", rate, "burst", burst, "latency", "50ms"),
          true);
      progress.printf(
          "bench: link %s: namespace %s, tbf rate %s burst %s%n", rate, namespace, rate, burst);
      return measure(namespace, rate);
    } finally {
      deleteNamespace(namespace);
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException e) {
        // Shutting down already: the hook runs anyway.
      }
    }
  }

  private List<Run> measure(String namespace, String rate) throws Exception {
    List<String> launcher = List.of("ip", "netns", "exec", namespace);
    List<Run> runs = new ArrayList<>();
    try (ChildJvm server =
            ChildJvm.start(
                "link-server", launcher, childFlags, LinkChildMain.class, List.of("server"));
        ChildJvm client =
            ChildJvm.start(
                "link-client",
                launcher,
                childFlags,
                LinkChildMain.class,
                List.of("client", Integer.toString(options.batchRows())))) {
      String[] ports = server.expect("PORT ", Duration.ofSeconds(60)).trim().split(" ");
      Map<String, Long> batchBytes = new LinkedHashMap<>();
      for (String pair : client.expect("READY ", Duration.ofSeconds(120)).trim().split(" ")) {
        String[] kv = pair.split("=");
        batchBytes.put(kv[0], Long.parseLong(kv[1]));
      }
      double bytesPerSecond = rateBytesPerSecond(rate);
      for (String table : TABLES) {
        long batches = Math.max(1, options.linkMegabytes() * 1_000_000 / batchBytes.get(table));
        long tableBytes = batches * batchBytes.get(table);
        for (String transport : List.of("predict-grpc", "flight")) {
          for (String codec : transport.equals("flight") ? List.of("NONE") : CODECS) {
            client.send("ratio " + table + " " + codec);
            double ratio =
                Double.parseDouble(client.expect("RATIO ", Duration.ofSeconds(60)).trim());
            String port = transport.equals("flight") ? ports[1] : ports[0];
            // Warm-up: the first batches of a path compile it in both JVMs.
            stream(
                client,
                transport,
                codec,
                table,
                WARMUP_BATCHES,
                port,
                WARMUP_BATCHES * batchBytes.get(table),
                bytesPerSecond);
            ProcessStats serverBefore = server.stats();
            ProcessStats clientBefore = client.stats();
            double seconds =
                stream(client, transport, codec, table, batches, port, tableBytes, bytesPerSecond);
            ProcessStats clientAfter = client.stats();
            ProcessStats serverAfter = server.stats();
            Run run =
                new Run(
                    table,
                    transport,
                    codec,
                    tableBytes,
                    seconds,
                    clientAfter.since(clientBefore),
                    serverAfter.since(serverBefore),
                    transport.equals("flight") ? 1.0 : ratio);
            progress.printf(
                Locale.ROOT,
                "bench: link %s %s %s %s: %.1f MB/s, %.2f CPU s/GB, ratio %.2f%n",
                rate,
                table,
                transport,
                codec,
                run.megabytesPerSecond(),
                run.cpuSecondsPerGigabyte(),
                run.ratio());
            runs.add(run);
          }
        }
      }
    }
    return runs;
  }

  /** Streams and returns the seconds the client took; the wait is bounded by the link's rate. */
  private static double stream(
      ChildJvm client,
      String transport,
      String codec,
      String table,
      long batches,
      String port,
      long tableBytes,
      double bytesPerSecond)
      throws IOException, InterruptedException {
    client.send("run " + transport + " " + codec + " " + table + " " + batches + " " + port);
    // Three times what the link needs uncompressed, plus start-up: a stuck run fails, not hangs.
    Duration bound = Duration.ofSeconds(60 + (long) (3 * tableBytes / bytesPerSecond));
    String done = client.expect("DONE ", bound);
    long rows = -1;
    double seconds = -1;
    for (String pair : done.trim().split(" ")) {
      String[] kv = pair.split("=");
      if (kv[0].equals("rows")) {
        rows = Long.parseLong(kv[1]);
      } else if (kv[0].equals("seconds")) {
        seconds = Double.parseDouble(kv[1]);
      }
    }
    if (rows <= 0 || seconds <= 0) {
      throw new IOException("link run answered '" + done + "'");
    }
    return seconds;
  }

  private static double rateBytesPerSecond(String rate) {
    long number = Long.parseLong(rate.replaceAll("[a-z]", ""));
    long unit =
        rate.endsWith("gbit") ? 1_000_000_000L : rate.endsWith("mbit") ? 1_000_000L : 1_000L;
    return number * unit / 8.0;
  }

  private void print(String rate, List<Run> runs) {
    out.printf(
        Locale.ROOT,
        "%n== Rate-limited link: %s (tc tbf on a network namespace's loopback), %,d MB per table,"
            + " batches of %,d rows, score model (one float64 back)%n",
        rate,
        options.linkMegabytes(),
        options.batchRows());
    out.printf(
        Locale.ROOT,
        "%-10s %-13s %-10s %9s %11s %7s %13s%n",
        "table",
        "transport",
        "codec",
        "MB/s",
        "CPU s/GB",
        "ratio",
        "x uncompr.");
    for (Run run : runs) {
      Run plain = find(runs, run.table(), "predict-grpc", "NONE");
      out.printf(
          Locale.ROOT,
          "%-10s %-13s %-10s %9.1f %11.2f %7.2f %13.2f%n",
          run.table(),
          run.transport(),
          run.codec().toLowerCase(Locale.ROOT),
          run.megabytesPerSecond(),
          run.cpuSecondsPerGigabyte(),
          run.ratio(),
          plain == null ? Double.NaN : run.megabytesPerSecond() / plain.megabytesPerSecond());
    }
  }

  private void printTargets(Map<String, List<Run>> byRate) {
    List<Run> slow = byRate.get("100mbit");
    if (slow == null) {
      return;
    }
    Run zstd = find(slow, "realistic", "predict-grpc", "ZSTD");
    Run plain = find(slow, "realistic", "predict-grpc", "NONE");
    Run flight = find(slow, "realistic", "flight", "NONE");
    if (zstd == null || plain == null || flight == null) {
      return;
    }
    double overPlain = zstd.megabytesPerSecond() / plain.megabytesPerSecond();
    double overFlight = zstd.megabytesPerSecond() / flight.megabytesPerSecond();
    out.printf(
        Locale.ROOT,
        "%nTarget (100mbit, realistic): ZSTD >= 3x uncompressed: %.2fx %s; >= 3x Flight DoExchange:"
            + " %.2fx %s%n",
        overPlain,
        overPlain >= 3 ? "MET" : "MISSED",
        overFlight,
        overFlight >= 3 ? "MET" : "MISSED");
  }

  private static @Nullable Run find(List<Run> runs, String table, String transport, String codec) {
    for (Run run : runs) {
      if (run.table().equals(table)
          && run.transport().equals(transport)
          && run.codec().equals(codec)) {
        return run;
      }
    }
    return null;
  }

  private void deleteNamespace(String namespace) {
    try {
      exec(List.of("ip", "netns", "delete", namespace), false);
    } catch (IOException e) {
      progress.println("bench: could not delete network namespace " + namespace + ": " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Runs a command (bounded to 30 s) and returns its output; {@code check} fails on exit != 0. */
  private static String exec(List<String> command, boolean check)
      throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish within 30 s");
    }
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (check && process.exitValue() != 0) {
      throw new IOException(
          String.join(" ", command)
              + " failed (exit "
              + process.exitValue()
              + "): "
              + output.trim());
    }
    return output;
  }
}
