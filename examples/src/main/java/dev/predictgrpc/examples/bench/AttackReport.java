/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.examples.attack.ServerWatch;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** Prints the {@code attack} benchmark's table and, below it, what the server answered. */
final class AttackReport {
  /** The longest first message quoted per attack; the server caps its own at 768 characters. */
  private static final int QUOTE_CHARS = 200;

  private AttackReport() {}

  static void print(List<AttackBench.Row> rows, PrintStream out) {
    out.printf(
        Locale.ROOT,
        "%-17s %9s %9s %12s | %9s %9s %9s %9s %7s %9s%n",
        "attack",
        "p50 ms",
        "p99 ms",
        "errors",
        "Arrow pk",
        "direct pk",
        "heap pk",
        "RSS pk",
        "threads",
        "Arrow end");
    for (AttackBench.Row row : rows) {
      out.printf(
          Locale.ROOT,
          "%-17s %9.2f %9.2f %12s | %9s %9s %9s %9s %7d %9s%n",
          row.scenario().label(),
          row.client().percentileMicros(0.5) / 1000.0,
          row.client().percentileMicros(0.99) / 1000.0,
          row.client().failures() + "/" + row.client().calls(),
          mib(row.server().get("arrow")),
          mib(row.server().get("direct")),
          mib(row.server().get("heap")),
          mib(row.server().get("rss")),
          row.server().get("threads"),
          mib(row.arrowAfter()));
    }
    out.println();
    out.println(
        "p50/p99/errors: the well-behaved client's Predict calls (2 rows, own connection) during"
            + " the attack; server columns: peaks in the server JVM during the attack (MiB);"
            + " Arrow end: Arrow memory still held once the attack's connections were closed.");
    out.println();
    for (AttackBench.Row row : rows) {
      out.printf(
          Locale.ROOT, "%-17s attacker: %s%n", row.scenario().label(), row.outcome().codes());
      String quote = row.outcome().toString();
      if (!row.outcome().codes().equals("none")) {
        out.printf(Locale.ROOT, "%-17s   %s%n", "", cap(quote));
      }
      for (String log : row.serverLog()) {
        out.printf(Locale.ROOT, "%-17s   server log: %s%n", "", cap(log));
      }
      if (row.client().failures() > 0) {
        out.printf(
            Locale.ROOT,
            "%-17s   client failures: %s%n",
            "",
            cap(row.client().failureSamples().get(0)));
      }
    }
  }

  private static String mib(long bytes) {
    return ServerWatch.mib(bytes).replace(" MiB", "");
  }

  private static String cap(String text) {
    return text.length() <= QUOTE_CHARS ? text : text.substring(0, QUOTE_CHARS) + "...";
  }
}
