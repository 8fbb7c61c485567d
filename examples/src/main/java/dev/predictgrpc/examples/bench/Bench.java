/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import io.grpc.ManagedChannelProvider;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToDoubleFunction;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.jspecify.annotations.Nullable;

/**
 * The side-by-side benchmark: {@code java -jar predict-grpc-examples.jar bench [options]}. Each
 * server runs in its own JVM on loopback; this JVM is the client. It prints one report with three
 * tables (streaming, unary, memory) and the targets; see the README beside this class.
 */
public final class Bench {
  static final List<String> MODELS = List.of("echo", "score");

  /** One round of the unary warm-up: half sequential calls, half with calls in flight. */
  private static final double UNARY_WARMUP_ROUND_SECONDS = 1.0;

  /** JIT compilation (client and server) below this in a warm-up round counts as settled. */
  private static final long SETTLED_JIT_MILLIS = 30;

  private static final double MAX_WARMUP_SECONDS = 30;
  static final String USAGE =
      "usage: bench [--rows N] [--repeats R] [--quick] [--rest-rows N] [--batch-rows N]\n"
          + "             [--memory-rows N] [--unary-seconds S] [--warmup-seconds S]\n"
          + "             [--in-flight N]\n"
          + "             [--sections stream,unary,memory]\n"
          + "             [--transports predict-grpc,flight,grpc-bytes,rest-json,oip,\n"
          + "                           grpc-unshaded]\n"
          + "             [--chunk-bytes N] [--flow-window N]  (predict-grpc only)\n"
          + "             [--child-flags \"-Xmx2g ...\"]";

  private final BenchOptions options;
  private final PrintStream out;
  private final PrintStream progress;
  private final List<String> childFlags;
  private final Map<Transport, Map<String, List<StreamRun>>> streamRuns =
      new EnumMap<>(Transport.class);
  private final Map<Transport, List<UnaryRun>> unaryRuns = new EnumMap<>(Transport.class);
  private final Map<String, List<MemoryRun>> memoryRuns = new LinkedHashMap<>();

  private Bench(BenchOptions options, PrintStream out, PrintStream progress) {
    this.options = options;
    this.out = out;
    this.progress = progress;
    List<String> extra = new ArrayList<>(options.childFlags());
    // predict-grpc's tuning reaches its server and memory-run client JVMs as properties, and the
    // clients in this JVM through the same properties.
    if (options.chunkBytes() > 0) {
      extra.add("-D" + PredictGrpcBench.CHUNK_BYTES + "=" + options.chunkBytes());
      System.setProperty(PredictGrpcBench.CHUNK_BYTES, Integer.toString(options.chunkBytes()));
    }
    if (options.flowWindow() > 0) {
      extra.add("-D" + PredictGrpcBench.FLOW_WINDOW + "=" + options.flowWindow());
      System.setProperty(PredictGrpcBench.FLOW_WINDOW, Integer.toString(options.flowWindow()));
    }
    this.childFlags = ChildJvm.childFlags(extra);
  }

  /** Runs the benchmark and prints the report on {@code out}; returns the exit status. */
  public static int run(String[] args, PrintStream out) throws Exception {
    BenchOptions options;
    try {
      options = BenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("bench: " + e.getMessage() + "\n" + USAGE);
      return 2;
    }
    if (options == null) {
      out.println(USAGE);
      return 0;
    }
    ChildJvm.prepareThisJvm();
    new Bench(options, out, System.err).execute();
    return 0;
  }

  private void execute() throws Exception {
    long started = System.nanoTime();
    printHeader();
    boolean stream = options.sections().contains("stream");
    boolean unary = options.sections().contains("unary");
    if (stream || unary) {
      List<Transport> transports = new ArrayList<>(options.transports());
      if (!stream) {
        transports.removeIf(t -> !t.hasUnary());
      }
      if (!unary) {
        transports.removeIf(t -> !t.hasStream());
      }
      Map<Transport, ChildJvm> servers = startServers(transports);
      Map<Transport, BenchClient> clients = new EnumMap<>(Transport.class);
      try (BufferAllocator allocator = new RootAllocator();
          BenchTable table = new BenchTable(allocator, options.batchRows())) {
        try {
          for (Transport transport : transports) {
            int port =
                Integer.parseInt(
                    servers.get(transport).expect("PORT ", Duration.ofSeconds(60)).trim());
            clients.put(transport, transport.connect(port, allocator, table));
          }
          if (stream) {
            streaming(clients, servers);
          }
          if (unary) {
            unary(clients, servers);
          }
        } finally {
          for (BenchClient client : clients.values()) {
            client.close();
          }
        }
      } finally {
        servers.values().forEach(ChildJvm::close);
      }
    }
    if (options.sections().contains("memory")) {
      memory();
    }
    printTargets();
    out.printf(
        Locale.ROOT,
        "%n(the whole run took %.0f s; load average at the end: %s)%n",
        (System.nanoTime() - started) / 1e9,
        loadAverage());
  }

  // ---------------------------------------------------------------- servers

  private Map<Transport, ChildJvm> startServers(List<Transport> transports) throws IOException {
    Map<Transport, ChildJvm> servers = new EnumMap<>(Transport.class);
    try {
      for (Transport transport : transports) { // all start at once; ports are read later
        servers.put(transport, startServer(transport));
      }
    } catch (IOException | RuntimeException e) {
      servers.values().forEach(ChildJvm::close);
      throw e;
    }
    return servers;
  }

  private ChildJvm startServer(Transport transport) throws IOException {
    List<String> flags = new ArrayList<>(childFlags);
    flags.addAll(transport.serverFlags());
    return ChildJvm.start(
        transport.label() + "-server", flags, BenchServerMain.class, List.of(transport.label()));
  }

  // ---------------------------------------------------------------- streaming

  /** One streamed table: wall time, and CPU and GC of both processes. */
  record StreamRun(long rows, double seconds, ProcessStats client, ProcessStats server) {
    double megabytesPerSecond() {
      return BenchTable.inputBytes(rows) / 1e6 / seconds;
    }

    double cpuSecondsPerGigabyte() {
      return (client.cpuNanos() + server.cpuNanos()) / 1e9 / (BenchTable.inputBytes(rows) / 1e9);
    }
  }

  private long streamRows(Transport transport) {
    return transport == Transport.REST_JSON ? options.restRows() : options.rows();
  }

  private void streaming(Map<Transport, BenchClient> allClients, Map<Transport, ChildJvm> servers)
      throws Exception {
    Map<Transport, BenchClient> clients = new EnumMap<>(allClients);
    clients.keySet().removeIf(t -> !t.hasStream()); // oip: unary only
    for (String model : MODELS) {
      for (Transport transport : clients.keySet()) {
        // At least one table and --warmup-seconds, then on until a table compiles under
        // SETTLED_JIT_MILLIS in both JVMs: echo runs still spent 100-600 ms in the JIT otherwise.
        long rows = Math.min(streamRows(transport), Math.max(options.batchRows(), 2_000_000));
        progress.printf(Locale.ROOT, "bench: warming up %s %s%n", model, transport.label());
        long start = System.nanoTime();
        while (true) {
          StreamRun run = streamOnce(clients.get(transport), servers.get(transport), model, rows);
          double elapsed = (System.nanoTime() - start) / 1e9;
          boolean settled =
              run.client().jitMillis() + run.server().jitMillis() < SETTLED_JIT_MILLIS;
          if (elapsed >= options.warmupSeconds()
              && (settled || options.quick() || elapsed >= MAX_WARMUP_SECONDS)) {
            break;
          }
        }
      }
      for (int repeat = 1; repeat <= options.repeats(); repeat++) {
        for (Transport transport : clients.keySet()) {
          StreamRun run =
              streamOnce(
                  clients.get(transport), servers.get(transport), model, streamRows(transport));
          progress.printf(
              Locale.ROOT,
              "bench: %s %s run %d/%d: %.1f MB/s%n",
              model,
              transport.label(),
              repeat,
              options.repeats(),
              run.megabytesPerSecond());
          streamRuns
              .computeIfAbsent(transport, t -> new HashMap<>())
              .computeIfAbsent(model, m -> new ArrayList<>())
              .add(run);
        }
      }
    }
    printStreaming();
  }

  private static StreamRun streamOnce(BenchClient client, ChildJvm server, String model, long rows)
      throws Exception {
    ProcessStats serverBefore = server.stats();
    ProcessStats clientBefore = ProcessStats.sample(null);
    long start = System.nanoTime();
    long received = client.stream(model, rows);
    double seconds = (System.nanoTime() - start) / 1e9;
    ProcessStats clientAfter = ProcessStats.sample(null);
    ProcessStats serverAfter = server.stats();
    if (received != rows) {
      throw new IllegalStateException(
          model + ": sent " + rows + " rows, got " + received + " back");
    }
    return new StreamRun(
        rows, seconds, clientAfter.since(clientBefore), serverAfter.since(serverBefore));
  }

  private void printStreaming() {
    out.printf(
        Locale.ROOT,
        "%n== Streaming: %,d rows x 16 float32 = %.1f MB per table, batches of %,d rows;"
            + " median of %d after a warm-up%n",
        options.rows(),
        BenchTable.inputBytes(options.rows()) / 1e6,
        options.batchRows(),
        options.repeats());
    if (streamRuns.containsKey(Transport.REST_JSON)) {
      out.printf(
          Locale.ROOT,
          "   (rest-json* streams %,d rows = %.1f MB per table; its rates are per second as"
              + " well)%n",
          options.restRows(),
          BenchTable.inputBytes(options.restRows()) / 1e6);
    }
    out.println(
        "          model  transport         MB/s       rows/s  ours/this"
            + "  CPU s/GB (client+server)  GC client/server  JIT ms client/server  s/table");
    for (String model : MODELS) {
      Double ours =
          medianOf(streamRuns(Transport.PREDICT_GRPC, model), StreamRun::megabytesPerSecond);
      for (Transport transport : streamRuns.keySet()) {
        List<StreamRun> runs = streamRuns(transport, model);
        if (runs.isEmpty()) {
          continue;
        }
        double mbps = median(runs, StreamRun::megabytesPerSecond);
        out.printf(
            Locale.ROOT,
            "stream    %-6s %-13s %8.1f %12s %9s  %6.2f (%5.2f + %5.2f)    %6.0f / %-6.0f"
                + "  %8.0f / %-8.0f  %7.2f%n",
            model,
            transport.label() + (transport == Transport.REST_JSON ? "*" : ""),
            mbps,
            String.format(Locale.ROOT, "%,.0f", mbps * 1e6 / BenchTable.BYTES_PER_ROW),
            ratio(ours, mbps),
            median(runs, StreamRun::cpuSecondsPerGigabyte),
            median(runs, r -> r.client().cpuNanos() / (BenchTable.inputBytes(r.rows()) * 1.0)),
            median(runs, r -> r.server().cpuNanos() / (BenchTable.inputBytes(r.rows()) * 1.0)),
            median(runs, r -> r.client().gcCount()),
            median(runs, r -> r.server().gcCount()),
            median(runs, r -> r.client().jitMillis()),
            median(runs, r -> r.server().jitMillis()),
            median(runs, StreamRun::seconds));
      }
    }
  }

  private List<StreamRun> streamRuns(Transport transport, String model) {
    return streamRuns.getOrDefault(transport, Map.of()).getOrDefault(model, List.of());
  }

  // ---------------------------------------------------------------- unary

  /** Sequential latency percentiles and the throughput with N calls in flight. */
  record UnaryRun(
      double p50Micros,
      double p99Micros,
      long sequentialCalls,
      ProcessStats client,
      ProcessStats server,
      double callsPerSecond) {
    double cpuMicrosPerCall(ProcessStats stats) {
      return stats.cpuNanos() / 1e3 / sequentialCalls;
    }
  }

  private void unary(Map<Transport, BenchClient> clients, Map<Transport, ChildJvm> servers)
      throws Exception {
    List<Transport> transports = new ArrayList<>();
    for (Transport transport : clients.keySet()) {
      if (transport.hasUnary()) {
        transports.add(transport);
      }
    }
    for (Transport transport : transports) {
      warmUpUnary(transport, clients.get(transport), servers.get(transport));
    }
    for (int repeat = 1; repeat <= options.repeats(); repeat++) {
      for (Transport transport : transports) {
        BenchClient client = clients.get(transport);
        ChildJvm server = servers.get(transport);
        ProcessStats serverBefore = server.stats();
        ProcessStats clientBefore = ProcessStats.sample(null);
        long[] latencies = sequential(client, options.unarySeconds());
        ProcessStats clientAfter = ProcessStats.sample(null);
        ProcessStats serverAfter = server.stats();
        double callsPerSecond = inFlight(client, options.unarySeconds());
        UnaryRun run =
            new UnaryRun(
                percentile(latencies, 0.50) / 1e3,
                percentile(latencies, 0.99) / 1e3,
                latencies.length,
                clientAfter.since(clientBefore),
                serverAfter.since(serverBefore),
                callsPerSecond);
        progress.printf(
            Locale.ROOT,
            "bench: unary %s run %d/%d: p50 %.0f us, %,.0f calls/s%n",
            transport.label(),
            repeat,
            options.repeats(),
            run.p50Micros(),
            callsPerSecond);
        unaryRuns.computeIfAbsent(transport, t -> new ArrayList<>()).add(run);
      }
    }
    printUnary();
  }

  /**
   * Calls for at least {@code --warmup-seconds}, then on until the JIT has settled in both JVMs
   * (under {@link #SETTLED_JIT_MILLIS} of compilation in a round), for at most {@link
   * #MAX_WARMUP_SECONDS}. A fixed warm-up was not enough: predict-grpc's call path has more
   * code to compile than a bare call, and on 2 cores its first measured runs still spent a second
   * in the JIT and came out 3-4x slower than the later ones.
   */
  private void warmUpUnary(Transport transport, BenchClient client, ChildJvm server)
      throws Exception {
    progress.printf(Locale.ROOT, "bench: warming up unary %s%n", transport.label());
    // --quick (the smoke test) checks that every figure is printed, not that they are settled.
    double round = Math.min(UNARY_WARMUP_ROUND_SECONDS, options.warmupSeconds());
    double most = options.quick() ? options.warmupSeconds() : MAX_WARMUP_SECONDS;
    long start = System.nanoTime();
    long jitBefore = jitMillis(server);
    while (true) {
      sequential(client, round / 2);
      inFlight(client, round / 2);
      long jitAfter = jitMillis(server);
      double elapsed = (System.nanoTime() - start) / 1e9;
      boolean settled = jitAfter - jitBefore < SETTLED_JIT_MILLIS;
      if ((settled && elapsed >= options.warmupSeconds()) || elapsed >= most) {
        progress.printf(
            Locale.ROOT,
            "bench: unary %s warmed up in %.1f s (JIT %s)%n",
            transport.label(),
            elapsed,
            settled ? "settled" : "still compiling");
        return;
      }
      jitBefore = jitAfter;
    }
  }

  private static long jitMillis(ChildJvm server) throws Exception {
    return server.stats().jitMillis() + ProcessStats.sample(null).jitMillis();
  }

  /** Calls one at a time for {@code seconds}; returns each call's latency in nanoseconds. */
  private static long[] sequential(BenchClient client, double seconds) throws Exception {
    long[] latencies = new long[1024];
    int count = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    for (long now = System.nanoTime(); now < end; ) {
      client.unary();
      long after = System.nanoTime();
      if (count == latencies.length) {
        latencies = Arrays.copyOf(latencies, count * 2);
      }
      latencies[count++] = after - now;
      now = after;
    }
    return Arrays.copyOf(latencies, count);
  }

  /** Keeps {@code options.inFlight()} calls outstanding for {@code seconds}; returns calls/s. */
  private double inFlight(BenchClient client, double seconds) throws Exception {
    int window = options.inFlight();
    Semaphore permits = new Semaphore(window);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    long calls = 0;
    while (System.nanoTime() < end && failure.get() == null) {
      permits.acquire();
      calls++;
      client.unaryAsync(
          error -> {
            if (error != null) {
              failure.compareAndSet(null, error);
            }
            permits.release();
          });
    }
    if (!permits.tryAcquire(window, 60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("unary calls still outstanding after 60 s");
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    Throwable error = failure.get();
    if (error != null) {
      throw new IllegalStateException("a unary call failed", error);
    }
    return calls / elapsed;
  }

  private void printUnary() {
    out.printf(
        Locale.ROOT,
        "%n== Unary: 1 row x 16 float32 in, 1 float32 out. Latency, CPU and JIT time of sequential"
            + " calls for %.1f s; calls/s with %d in flight for %.1f s; median of %d%n",
        options.unarySeconds(),
        options.inFlight(),
        options.unarySeconds(),
        options.repeats());
    out.println(
        "          transport       p50 us   p99 us  ours/this (p50)  calls"
            + "  CPU us/call (client+server)  JIT ms client/server  calls/s@"
            + options.inFlight()
            + "  ours/this");
    Double oursP50 = medianOf(unaryRuns.get(Transport.PREDICT_GRPC), UnaryRun::p50Micros);
    Double oursRate = medianOf(unaryRuns.get(Transport.PREDICT_GRPC), UnaryRun::callsPerSecond);
    for (Map.Entry<Transport, List<UnaryRun>> entry : unaryRuns.entrySet()) {
      List<UnaryRun> runs = entry.getValue();
      double p50 = median(runs, UnaryRun::p50Micros);
      double rate = median(runs, UnaryRun::callsPerSecond);
      out.printf(
          Locale.ROOT,
          "unary     %-13s %8.0f %8.0f  %15s  %5.0f  %6.0f (%5.0f + %5.0f)      %8.0f / %-8.0f"
              + "  %10s  %9s%n",
          entry.getKey().label(),
          p50,
          median(runs, UnaryRun::p99Micros),
          ratio(oursP50, p50),
          median(runs, r -> r.sequentialCalls()),
          median(runs, r -> r.cpuMicrosPerCall(r.client()) + r.cpuMicrosPerCall(r.server())),
          median(runs, r -> r.cpuMicrosPerCall(r.client())),
          median(runs, r -> r.cpuMicrosPerCall(r.server())),
          median(runs, r -> r.client().jitMillis()),
          median(runs, r -> r.server().jitMillis()),
          String.format(Locale.ROOT, "%,.0f", rate),
          ratio(oursRate, rate));
    }
  }

  // ---------------------------------------------------------------- memory

  /** Peaks of a fresh server JVM and a fresh client JVM that streamed one table. */
  record MemoryRun(long rows, double seconds, ProcessStats client, ProcessStats server) {}

  /** One transport and model whose memory is measured. */
  record MemoryConfig(Transport transport, String model) {
    String key(long rows) {
      return transport.label() + " " + model + " " + rows;
    }
  }

  private List<MemoryConfig> memoryConfigs() {
    List<MemoryConfig> all =
        options.quick()
            ? List.of(new MemoryConfig(Transport.PREDICT_GRPC, "echo"))
            : List.of(
                new MemoryConfig(Transport.PREDICT_GRPC, "echo"),
                new MemoryConfig(Transport.PREDICT_GRPC, "score"),
                new MemoryConfig(Transport.FLIGHT, "echo"));
    List<MemoryConfig> configs = new ArrayList<>();
    for (MemoryConfig config : all) {
      if (options.transports().contains(config.transport())) {
        configs.add(config);
      }
    }
    return configs;
  }

  private void memory() throws Exception {
    long[] sizes = {options.memoryRows(), options.memoryRows() * 10};
    for (int repeat = 1; repeat <= options.repeats(); repeat++) {
      for (MemoryConfig config : memoryConfigs()) {
        for (long rows : sizes) {
          MemoryRun run = memoryOnce(config.transport(), config.model(), rows);
          progress.printf(
              Locale.ROOT,
              "bench: memory %s %s %,d rows run %d/%d: server %.0f MB, client %.0f MB peak RSS%n",
              config.model(),
              config.transport().label(),
              rows,
              repeat,
              options.repeats(),
              run.server().peakRssBytes() / 1e6,
              run.client().peakRssBytes() / 1e6);
          memoryRuns.computeIfAbsent(config.key(rows), k -> new ArrayList<>()).add(run);
        }
      }
    }
    printMemory(sizes);
  }

  private MemoryRun memoryOnce(Transport transport, String model, long rows) throws Exception {
    ChildJvm server = startServer(transport);
    try (server;
        ChildJvm client =
            ChildJvm.start(
                transport.label() + "-client",
                childFlags,
                BenchClientMain.class,
                List.of(
                    transport.label(),
                    model,
                    Long.toString(rows),
                    Integer.toString(options.batchRows())))) {
      int port = Integer.parseInt(server.expect("PORT ", Duration.ofSeconds(60)).trim());
      client.send("go " + port);
      Duration timeout = Duration.ofSeconds(120 + BenchTable.inputBytes(rows) / 5_000_000);
      String done = client.expect("DONE ", timeout);
      ProcessStats clientStats =
          ProcessStats.parse(
              ProcessStats.PREFIX + client.expect(ProcessStats.PREFIX, Duration.ofSeconds(30)));
      ProcessStats serverStats = server.stats();
      long received = Long.parseLong(done.replaceAll(".*rows=(\\d+).*", "$1"));
      double seconds = Double.parseDouble(done.replaceAll(".*seconds=([0-9.]+).*", "$1"));
      if (received != rows) {
        throw new IllegalStateException(
            model + ": sent " + rows + " rows, got " + received + " back");
      }
      return new MemoryRun(rows, seconds, clientStats, serverStats);
    }
  }

  private void printMemory(long[] sizes) {
    out.printf(
        Locale.ROOT,
        "%n== Memory: peak RSS (VmHWM) and Arrow allocator peak, a fresh server JVM and a fresh"
            + " client JVM per table; median of %d%n",
        options.repeats());
    out.println(
        "          transport     model        rows      MB  server RSS  server Arrow"
            + "  client RSS  client Arrow   (MB)");
    for (MemoryConfig config : memoryConfigs()) {
      double[][] peaks = new double[sizes.length][];
      for (int i = 0; i < sizes.length; i++) {
        List<MemoryRun> runs = memoryRuns.get(config.key(sizes[i]));
        peaks[i] =
            new double[] {
              median(runs, r -> r.server().peakRssBytes() / 1e6),
              median(runs, r -> r.server().arrowPeakBytes() / 1e6),
              median(runs, r -> r.client().peakRssBytes() / 1e6),
              median(runs, r -> r.client().arrowPeakBytes() / 1e6)
            };
        out.printf(
            Locale.ROOT,
            "memory    %-13s %-6s %11s %7.0f  %10.0f  %12.1f  %10.0f  %12.1f%n",
            config.transport().label(),
            config.model(),
            String.format(Locale.ROOT, "%,d", sizes[i]),
            BenchTable.inputBytes(sizes[i]) / 1e6,
            peaks[i][0],
            peaks[i][1],
            peaks[i][2],
            peaks[i][3]);
      }
      out.printf(
          Locale.ROOT,
          "memory    %-13s %-6s %11s %7s  %9.2fx  %11.2fx  %9.2fx  %11.2fx%n",
          config.transport().label(),
          config.model(),
          "10x/1x",
          "",
          peaks[1][0] / peaks[0][0],
          peaks[1][1] / peaks[0][1],
          peaks[1][2] / peaks[0][2],
          peaks[1][3] / peaks[0][3]);
    }
  }

  // ---------------------------------------------------------------- targets

  private void printTargets() {
    out.printf("%n== Targets (ratios of medians from this run)%n");
    out.println("          target                                              measured  goal");
    for (String model : MODELS) {
      String aim = model.equals("echo") ? " (aim 1.5x)" : " (aim 1.2x)";
      streamTarget(
          "PredictStream / Flight DoExchange, " + model + ", MB/s",
          model,
          Transport.FLIGHT,
          1.0,
          aim);
    }
    for (String model : MODELS) {
      streamTarget(
          "PredictStream / REST-JSON, " + model + ", MB/s", model, Transport.REST_JSON, 10.0, "");
    }
    Double oursP50 = medianOf(unaryRuns.get(Transport.PREDICT_GRPC), UnaryRun::p50Micros);
    Double bareP50 = medianOf(unaryRuns.get(Transport.GRPC_BYTES), UnaryRun::p50Micros);
    target("Predict / bare gRPC unary, p50 latency", ratioValue(oursP50, bareP50), "<=", 1.2, "");
    Double oursRate = medianOf(unaryRuns.get(Transport.PREDICT_GRPC), UnaryRun::callsPerSecond);
    Double bareRate = medianOf(unaryRuns.get(Transport.GRPC_BYTES), UnaryRun::callsPerSecond);
    target(
        "Predict / bare gRPC unary, calls/s with " + options.inFlight() + " in flight",
        ratioValue(oursRate, bareRate),
        ">=",
        0.85,
        "");
    long small = options.memoryRows();
    for (String model : MODELS) {
      List<MemoryRun> one = memoryRuns.get("predict-grpc " + model + " " + small);
      List<MemoryRun> ten = memoryRuns.get("predict-grpc " + model + " " + small * 10);
      memoryTarget("server peak RSS", model, one, ten, r -> r.server().peakRssBytes());
      memoryTarget("server Arrow peak", model, one, ten, r -> r.server().arrowPeakBytes());
      memoryTarget("client peak RSS", model, one, ten, r -> r.client().peakRssBytes());
      memoryTarget("client Arrow peak", model, one, ten, r -> r.client().arrowPeakBytes());
    }
  }

  private void streamTarget(String name, String model, Transport other, double goal, String aim) {
    Double ours =
        medianOf(streamRuns(Transport.PREDICT_GRPC, model), StreamRun::megabytesPerSecond);
    Double theirs = medianOf(streamRuns(other, model), StreamRun::megabytesPerSecond);
    target(name, ratioValue(ours, theirs), ">=", goal, aim);
  }

  private void memoryTarget(
      String what,
      String model,
      @Nullable List<MemoryRun> one,
      @Nullable List<MemoryRun> ten,
      ToDoubleFunction<MemoryRun> metric) {
    if (one == null || ten == null) {
      return;
    }
    target(
        "predict-grpc " + model + ": " + what + ", 10x table / 1x table",
        median(ten, metric) / median(one, metric),
        "<=",
        1.2,
        "");
  }

  private void target(String name, @Nullable Double measured, String op, double goal, String aim) {
    String verdict;
    if (measured == null || measured.isNaN()) {
      verdict = "n/a";
    } else {
      boolean met = op.equals(">=") ? measured >= goal : measured <= goal;
      verdict = met ? "MET" : "MISSED";
    }
    out.printf(
        Locale.ROOT,
        "target    %-58s %7s  %s %.2fx%s  %s%n",
        name,
        measured == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", measured),
        op,
        goal,
        aim,
        verdict);
  }

  // ---------------------------------------------------------------- header

  private void printHeader() {
    Runtime runtime = Runtime.getRuntime();
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    out.printf(
        Locale.ROOT,
        "predict-grpc benchmark, %s; each server in its own JVM on 127.0.0.1, this JVM is the"
            + " client%n",
        Instant.now().truncatedTo(ChronoUnit.SECONDS));
    out.printf(
        Locale.ROOT,
        "machine:  %d cores (%s), %.1f GiB RAM, %s %s %s%n",
        runtime.availableProcessors(),
        cpuModel(),
        os.getTotalMemorySize() / (double) (1L << 30),
        System.getProperty("os.name"),
        System.getProperty("os.version"),
        System.getProperty("os.arch"));
    out.printf(Locale.ROOT, "load:     %s (1, 5, 15 min) at the start%n", loadAverage());
    out.printf(
        Locale.ROOT,
        "JDK:      %s %s (%s)%n",
        System.getProperty("java.vm.name"),
        System.getProperty("java.vm.version"),
        System.getProperty("java.vendor"));
    out.printf(
        Locale.ROOT,
        "flags:    client %s, max heap %.1f GiB, %s%n",
        ManagementFactory.getRuntimeMXBean().getInputArguments(),
        runtime.maxMemory() / (double) (1L << 30),
        garbageCollectors());
    out.printf(Locale.ROOT, "          servers and memory-run clients %s%n", childFlags);
    out.printf(
        Locale.ROOT,
        "          rest-json server also -Dsun.net.httpserver.nodelay=true; gRPC channels: %s%n",
        ManagedChannelProvider.provider().getClass().getName());
    out.printf(
        Locale.ROOT,
        "options:  --rows %d --batch-rows %d --rest-rows %d --repeats %d --memory-rows %d"
            + " --unary-seconds %.1f --warmup-seconds %.1f --in-flight %d%s%n",
        options.rows(),
        options.batchRows(),
        options.restRows(),
        options.repeats(),
        options.memoryRows(),
        options.unarySeconds(),
        options.warmupSeconds(),
        options.inFlight(),
        options.quick() ? " (--quick)" : "");
    out.println("transports:");
    for (Transport transport : options.transports()) {
      out.printf(Locale.ROOT, "  %-13s %s%n", transport.label(), transport.description());
    }
    out.println(
        "ours/this: predict-grpc's figure divided by this row's (throughput: > 1 means ours is"
            + " faster; latency: < 1 means ours is faster)");
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux.
    }
    return System.getProperty("os.arch");
  }

  /** Other work on the machine skews every figure: the report says how busy it was. */
  private static String loadAverage() {
    try {
      String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return fields[0] + ", " + fields[1] + ", " + fields[2];
    } catch (IOException | RuntimeException e) {
      return String.format(
          Locale.ROOT, "%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
  }

  private static String garbageCollectors() {
    List<String> names = new ArrayList<>();
    ManagementFactory.getGarbageCollectorMXBeans().forEach(gc -> names.add(gc.getName()));
    return "GC " + String.join(" + ", names);
  }

  // ---------------------------------------------------------------- statistics

  static <T> double median(List<T> runs, ToDoubleFunction<T> metric) {
    double[] values = runs.stream().mapToDouble(metric).sorted().toArray();
    int n = values.length;
    if (n == 0) {
      return Double.NaN;
    }
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }

  private static <T> @Nullable Double medianOf(@Nullable List<T> runs, ToDoubleFunction<T> metric) {
    return runs == null || runs.isEmpty() ? null : median(runs, metric);
  }

  /** The nearest-rank percentile of {@code values} (sorted in place). */
  static double percentile(long[] values, double fraction) {
    if (values.length == 0) {
      return Double.NaN;
    }
    Arrays.sort(values);
    int rank = (int) Math.ceil(fraction * values.length);
    return values[Math.max(0, Math.min(values.length - 1, rank - 1))];
  }

  private static @Nullable Double ratioValue(@Nullable Double ours, @Nullable Double theirs) {
    return ours == null || theirs == null ? null : ours / theirs;
  }

  private static String ratio(@Nullable Double ours, double theirs) {
    return ours == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", ours / theirs);
  }
}
