/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.examples.serve.ModelRepository;
import dev.predictgrpc.examples.serve.Serve;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The {@code swap-bench} command: how much replacing a model while it serves costs its callers.
 *
 * <p>It starts {@code serve --model-repository} on a temporary directory holding the bundled iris
 * ONNX model as {@code iris/1/model.onnx}, and runs {@code --threads} callers sending one-row unary
 * calls back to back. During the first run a new version is written into the directory every {@code
 * --swap-every} (version 2, 3, ..., alternating the two bundled models; or, with {@code
 * --in-place}, the file of version 1 is overwritten); the server's repository polling picks each up
 * and, with the default version policy {@code latest:1}, replaces the served one. The second run,
 * of the same length, changes nothing. It prints calls, errors and p50/p99/max latency of both runs
 * side by side. Server and callers share this JVM and talk over loopback TCP.
 */
public final class SwapBench {
  private static final String IRIS = "/dev/predictgrpc/examples/iris/";
  private static final String MODEL = "iris";

  private SwapBench() {}

  /** The command's settings. */
  record Settings(
      Duration run,
      int threads,
      Duration swapEvery,
      Duration pollInterval,
      Duration warmup,
      boolean inPlace) {}

  /**
   * Runs the benchmark and prints the table to {@code out}. Options: {@code --seconds S} (30: each
   * run), {@code --threads N} (8), {@code --swap-every S} (1), {@code --poll-interval S} (0.1),
   * {@code --warmup-seconds S} (3: at least this long, then until the JIT settles; 0 for none),
   * {@code --in-place}.
   *
   * @return the exit status: 0, 1 if a call failed, or 2 for bad arguments
   */
  public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    Settings settings;
    try {
      settings = parse(args);
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      err.println(
          "usage: swap-bench [--seconds 30] [--threads 8] [--swap-every 1] [--poll-interval 0.1]"
              + " [--warmup-seconds 3] [--in-place]");
      return 2;
    }
    out.printf(
        Locale.ROOT,
        "swap-bench: %d caller threads, unary Predict of 1 row to %s (ONNX), %.1f s per run after"
            + " a warm-up of %.1f s or more, until the JIT settles;%n"
            + "swaps: %s every %.1f s; serve --model-repository polls every %d ms, version policy"
            + " latest:1;%n"
            + "server and callers in one JVM over loopback TCP, %d CPUs, %s %s%n%n",
        settings.threads(),
        MODEL,
        seconds(settings.run()),
        seconds(settings.warmup()),
        settings.inPlace() ? "model.onnx of version 1 overwritten" : "a new version directory",
        seconds(settings.swapEvery()),
        settings.pollInterval().toMillis(),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"));
    Path dir = Files.createTempDirectory("swap-bench");
    try {
      return measure(settings, dir, out);
    } finally {
      deleteRecursively(dir);
    }
  }

  private static int measure(Settings settings, Path dir, PrintStream out) throws Exception {
    byte[][] models = {resource("iris_gbt.onnx"), resource("iris_logreg.onnx")};
    write(dir, "1", models[0]);
    ByteArrayOutputStream serverLog = new ByteArrayOutputStream();
    PrintStream serverOut = new PrintStream(serverLog, true, StandardCharsets.UTF_8);
    String[] serveArgs = {
      "--port",
      "0",
      "--bind",
      "127.0.0.1",
      "--model-repository",
      dir.toString(),
      "--poll-interval",
      settings.pollInterval().toMillis() + "ms"
    };
    try (BufferAllocator allocator = new RootAllocator();
        Serve.Running server = Serve.start(serveArgs, serverOut);
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), allocator).build()) {
      warmUp(client, allocator, settings, out);

      out.println("running with swaps ...");
      Map<String, Long> written = new ConcurrentHashMap<>();
      Thread swapper = swapper(settings, dir, models, written);
      long end = deadline(settings.run());
      JvmTimes before = JvmTimes.now();
      swapper.start();
      Callers.Result swaps = Callers.run(client, allocator, MODEL, settings.threads(), end);
      JvmTimes swapTimes = JvmTimes.now().minus(before);
      swapper.interrupt();
      swapper.join();
      awaitSettled(client, allocator, written, settings);

      out.println("running without swaps ...");
      before = JvmTimes.now();
      Callers.Result steady =
          Callers.run(client, allocator, MODEL, settings.threads(), deadline(settings.run()));
      JvmTimes steadyTimes = JvmTimes.now().minus(before);
      out.println();
      printTable(swaps, swapTimes, steady, steadyTimes, out);
      printSwaps(swaps, written, serverLog.toString(StandardCharsets.UTF_8), settings, out);
      printTargets(swaps, steady, out);
      return swaps.errors() + steady.errors() == 0 ? 0 : 1;
    }
  }

  /**
   * Calls for at least the warm-up time, then in rounds of a second until a round spends under 30
   * ms compiling (at most 60 s), so that neither run measures the JIT: the first run would
   * otherwise pay for it alone. A warm-up time of 0 skips all of it (for smoke tests).
   */
  private static void warmUp(
      PredictClient client, BufferAllocator allocator, Settings settings, PrintStream out)
      throws InterruptedException {
    if (settings.warmup().isZero()) {
      return;
    }
    out.println("warming up ...");
    long giveUp = deadline(Duration.ofSeconds(60));
    Callers.run(client, allocator, MODEL, settings.threads(), deadline(settings.warmup()));
    while (System.nanoTime() < giveUp) {
      JvmTimes before = JvmTimes.now();
      Callers.run(client, allocator, MODEL, settings.threads(), deadline(Duration.ofSeconds(1)));
      if (JvmTimes.now().minus(before).jitMillis() < 30) {
        return;
      }
    }
  }

  /**
   * Writes a new model every {@code swapEvery}, plainly (not written elsewhere and renamed), so the
   * repository's stability check is what keeps a half-written file out. Records when each version
   * was written.
   */
  private static Thread swapper(
      Settings settings, Path dir, byte[][] models, Map<String, Long> written) {
    Thread thread =
        new Thread(
            () -> {
              long next = System.nanoTime();
              for (int n = 2; ; n++) {
                next += settings.swapEvery().toNanos();
                try {
                  sleepUntil(next);
                  String version = settings.inPlace() ? "1#" + n : Integer.toString(n);
                  write(dir, settings.inPlace() ? "1" : version, models[(n - 1) % 2]);
                  written.put(version, System.nanoTime());
                } catch (InterruptedException e) {
                  return;
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              }
            },
            "swap-bench-swapper");
    thread.setDaemon(true);
    return thread;
  }

  /** Waits (at most 30 s) until the last version written answers, so the next run is steady. */
  private static void awaitSettled(
      PredictClient client, BufferAllocator allocator, Map<String, Long> written, Settings s)
      throws InterruptedException {
    if (s.inPlace() || written.isEmpty()) {
      Thread.sleep(Math.max(1000, 3 * s.pollInterval().toMillis()));
      return;
    }
    String last =
        written.keySet().stream().max(Comparator.comparingInt(Integer::parseInt)).orElseThrow();
    long deadline = deadline(Duration.ofSeconds(30));
    while (System.nanoTime() < deadline) {
      Callers.Result probe =
          Callers.run(client, allocator, MODEL, 1, deadline(Duration.ofMillis(50)));
      if (probe.firstAnswerNanos().containsKey(last)) {
        return;
      }
    }
  }

  private static void printTable(
      Callers.Result swaps,
      JvmTimes swapTimes,
      Callers.Result steady,
      JvmTimes steadyTimes,
      PrintStream out) {
    out.printf(
        Locale.ROOT,
        "%-14s %9s %9s %7s %8s %8s %8s %9s %7s %7s%n",
        "run",
        "calls",
        "calls/s",
        "errors",
        "p50 ms",
        "p99 ms",
        "max ms",
        "versions",
        "JIT ms",
        "GC ms");
    row("with swaps", swaps, swapTimes, out);
    row("without swaps", steady, steadyTimes, out);
    for (Callers.Result result : List.of(swaps, steady)) {
      result.firstErrors().forEach(e -> out.println("  error: " + e));
    }
  }

  private static void row(String name, Callers.Result r, JvmTimes times, PrintStream out) {
    out.printf(
        Locale.ROOT,
        "%-14s %9d %9.0f %7d %8.3f %8.3f %8.3f %9d %7d %7d%n",
        name,
        r.calls(),
        r.calls() / r.seconds(),
        r.errors(),
        r.percentile(50) / 1e6,
        r.percentile(99) / 1e6,
        r.max() / 1e6,
        r.firstAnswerNanos().size(),
        times.jitMillis(),
        times.gcMillis());
  }

  /** Time this JVM has spent compiling and collecting garbage, in milliseconds. */
  private record JvmTimes(long jitMillis, long gcMillis) {
    static JvmTimes now() {
      long gc = 0;
      for (GarbageCollectorMXBean bean : ManagementFactory.getGarbageCollectorMXBeans()) {
        gc += Math.max(0, bean.getCollectionTime());
      }
      return new JvmTimes(ManagementFactory.getCompilationMXBean().getTotalCompilationTime(), gc);
    }

    JvmTimes minus(JvmTimes earlier) {
      return new JvmTimes(jitMillis - earlier.jitMillis, gcMillis - earlier.gcMillis);
    }
  }

  /** How many writes became a served version, and how long after the write it first answered. */
  private static void printSwaps(
      Callers.Result swaps,
      Map<String, Long> written,
      String serverLog,
      Settings settings,
      PrintStream out) {
    long loads = serverLog.lines().filter(l -> l.matches("(re)?loaded model .*")).count() - 1;
    long failures = serverLog.lines().filter(l -> l.contains("failed to load")).count();
    out.printf(
        Locale.ROOT,
        "%nswaps: %d files written, %d loads published by the server (%d failed loads)%n",
        written.size(),
        loads,
        failures);
    if (settings.inPlace()) {
      return;
    }
    List<Double> delays = new ArrayList<>();
    written.forEach(
        (version, at) -> {
          Long answered = swaps.firstAnswerNanos().get(version);
          if (answered != null) {
            delays.add((answered - at) / 1e9);
          }
        });
    delays.sort(null);
    long[] switches = swaps.sortedSwitchLatencies();
    if (switches.length > 0) {
      out.printf(
          Locale.ROOT,
          "first call of a thread on a new version: %d calls, p50 %.3f ms, max %.3f ms%n",
          switches.length,
          switches[switches.length / 2] / 1e6,
          swaps.maxSwitch() / 1e6);
    }
    if (!delays.isEmpty()) {
      out.printf(
          Locale.ROOT,
          "write to first answer: median %.2f s, max %.2f s (%d of %d versions answered during"
              + " the run; a version loads once its file is unchanged for one poll)%n",
          delays.get(delays.size() / 2),
          delays.get(delays.size() - 1),
          delays.size(),
          written.size());
    }
  }

  private static void printTargets(Callers.Result swaps, Callers.Result steady, PrintStream out) {
    double ratio = (double) swaps.percentile(99) / Math.max(1, steady.percentile(99));
    out.printf(
        Locale.ROOT,
        "targets: errors %d (target 0) %s; p99 with swaps / without %.2f (target <= 1.5) %s%n",
        swaps.errors() + steady.errors(),
        swaps.errors() + steady.errors() == 0 ? "met" : "MISSED",
        ratio,
        ratio <= 1.5 ? "met" : "MISSED");
  }

  static Settings parse(String[] args) {
    double seconds = 30;
    int threads = 8;
    double swapEvery = 1;
    double poll = 0.1;
    double warmup = 3;
    boolean inPlace = false;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--in-place")) {
        inPlace = true;
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("missing value after " + arg);
      }
      String value = args[++i];
      try {
        switch (arg) {
          case "--seconds":
            seconds = positive(arg, Double.parseDouble(value));
            break;
          case "--threads":
            threads = (int) positive(arg, Integer.parseInt(value));
            break;
          case "--swap-every":
            swapEvery = positive(arg, Double.parseDouble(value));
            break;
          case "--poll-interval":
            poll = positive(arg, Double.parseDouble(value));
            break;
          case "--warmup-seconds":
            warmup = Double.parseDouble(value);
            if (warmup < 0) {
              throw new IllegalArgumentException(arg + ": " + value + " (expected: >= 0)");
            }
            break;
          default:
            throw new IllegalArgumentException("unknown option " + arg);
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(arg + ": not a number: " + value);
      }
    }
    return new Settings(
        duration(seconds), threads, duration(swapEvery), duration(poll), duration(warmup), inPlace);
  }

  private static double positive(String option, double value) {
    if (!(value > 0)) {
      throw new IllegalArgumentException(option + ": " + value + " (expected: > 0)");
    }
    return value;
  }

  private static Duration duration(double seconds) {
    return Duration.ofNanos(Math.round(seconds * 1e9));
  }

  private static double seconds(Duration duration) {
    return duration.toNanos() / 1e9;
  }

  private static long deadline(Duration duration) {
    return System.nanoTime() + duration.toNanos();
  }

  private static void write(Path dir, String version, byte[] model) throws IOException {
    Path versionDir = Files.createDirectories(dir.resolve(MODEL).resolve(version));
    Files.write(versionDir.resolve(ModelRepository.MODEL_FILE), model);
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = SwapBench.class.getResourceAsStream(IRIS + name)) {
      return in.readAllBytes();
    }
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long remaining;
    while ((remaining = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, remaining / 1_000_000));
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
