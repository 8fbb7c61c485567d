/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.examples.attack.Scenario;
import dev.predictgrpc.examples.attack.StatusTally;
import dev.predictgrpc.examples.attack.WellBehavedClient;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The attack benchmark: {@code java -jar predict-grpc-examples.jar attack [options]}. Starts a
 * predict-grpc server with a small memory budget in a child JVM with capped heap and direct memory,
 * then runs each attack in turn for a few seconds while a well-behaved client, on its own
 * connection, makes small Predict calls; prints per attack the client's latency and errors, the
 * server's peaks and how the attacker's calls ended. See ATTACK.md beside this class. Runs on the
 * calling thread, one run at a time.
 */
public final class AttackBench {
  static final String USAGE =
      "usage: attack [--seconds S] [--budget-mib N] [--attacks a,b,...] [--child-flags \"...\"]\n"
          + "  attacks: baseline, body-reservation, budget-fill, declared-sizes, idle-streams,\n"
          + "           stalled-unary, rapid-reset (default: all, in that order)\n"
          + "  defaults: --seconds 4 --budget-mib 64"
          + " --child-flags \"-Xmx256m -XX:MaxDirectMemorySize=256m\"";

  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(20);

  /** One attack's row of the report. */
  record Row(
      Scenario scenario,
      WellBehavedClient.Result client,
      Map<String, Long> server,
      long arrowAfter,
      StatusTally outcome,
      List<String> serverLog) {}

  private final AttackBenchOptions options;
  private final PrintStream out;

  private AttackBench(AttackBenchOptions options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  /** Runs the benchmark and prints the report on {@code out}; returns the exit status. */
  public static int run(String[] args, PrintStream out) throws Exception {
    AttackBenchOptions options;
    try {
      options = AttackBenchOptions.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("attack: " + e.getMessage() + "\n" + USAGE);
      return 2;
    }
    if (options == null) {
      out.println(USAGE);
      return 0;
    }
    ChildJvm.prepareThisJvm();
    new AttackBench(options, out).execute();
    return 0;
  }

  private void execute() throws Exception {
    long started = System.nanoTime();
    List<String> flags = ChildJvm.childFlags(options.childFlags());
    out.printf(
        Locale.ROOT,
        "predict-grpc attack benchmark: JDK %s, %d cores; server maxServerMemoryBytes=%d MiB,"
            + " other limits default; server JVM flags: %s; %.1f s per attack%n%n",
        Runtime.version(),
        Runtime.getRuntime().availableProcessors(),
        options.budgetBytes() >> 20,
        String.join(" ", options.childFlags()),
        options.seconds());
    List<Row> rows = new ArrayList<>();
    try (ChildJvm server =
            ChildJvm.start(
                "attack-server",
                flags,
                AttackServerMain.class,
                List.of(Long.toString(options.budgetBytes())));
        BufferAllocator allocator = new RootAllocator()) {
      int port = Integer.parseInt(server.expect("PORT ", Duration.ofSeconds(60)).trim());
      for (Scenario scenario : options.scenarios()) {
        System.err.println("attack: " + scenario.label());
        rows.add(runOne(scenario, server, port, allocator));
      }
    }
    AttackReport.print(rows, out);
    out.printf(Locale.ROOT, "%n(the whole run took %.0f s)%n", (System.nanoTime() - started) / 1e9);
  }

  private Row runOne(Scenario scenario, ChildJvm server, int port, BufferAllocator allocator)
      throws Exception {
    server.send("mark");
    server.expect("MARKED", Duration.ofSeconds(30));
    WellBehavedClient client =
        WellBehavedClient.start(
            "127.0.0.1:" + port, allocator, Duration.ofSeconds(30), Duration.ofMillis(5));
    StatusTally outcome = new StatusTally();
    Duration duration = Duration.ofMillis((long) (options.seconds() * 1000));
    WellBehavedClient.Result result;
    try {
      scenario.run(port, duration, outcome);
    } finally {
      result = client.stop();
    }
    Map<String, Long> stats = stats(server);
    long arrowAfter = awaitArrowReleased(server);
    return new Row(scenario, result, stats, arrowAfter, outcome, logs(server));
  }

  /** What the server logged since the attack began: "3x WARNING ...". */
  private static List<String> logs(ChildJvm server) throws Exception {
    server.send("logs");
    List<String> lines = new ArrayList<>();
    while (true) {
      String line = server.expect(AttackServerMain.LOG_PREFIX, Duration.ofSeconds(30));
      if ((AttackServerMain.LOG_PREFIX + line).equals(AttackServerMain.LOG_END)) {
        return lines;
      }
      int tab = line.indexOf('\t');
      lines.add(line.substring(0, tab) + "x " + line.substring(tab + 1));
    }
  }

  /** Waits for the server to release the attack's memory; returns what it still holds. */
  private static long awaitArrowReleased(ChildJvm server) throws Exception {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    long now = stats(server).get("arrownow");
    while (now != 0 && System.nanoTime() < deadline) {
      Thread.sleep(100);
      now = stats(server).get("arrownow");
    }
    return now;
  }

  private static Map<String, Long> stats(ChildJvm server) throws Exception {
    server.send("stats");
    String line = server.expect(AttackServerMain.STATS_PREFIX, Duration.ofSeconds(30));
    Map<String, Long> values = new HashMap<>();
    for (String pair : line.trim().split("\\s+")) {
      int eq = pair.indexOf('=');
      values.put(pair.substring(0, eq), Long.parseLong(pair.substring(eq + 1)));
    }
    return values;
  }
}
