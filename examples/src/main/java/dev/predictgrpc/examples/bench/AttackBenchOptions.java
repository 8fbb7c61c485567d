/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.examples.attack.Scenario;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The {@code attack} command line; see {@link AttackBench#USAGE}. */
record AttackBenchOptions(
    double seconds, long budgetBytes, List<Scenario> scenarios, List<String> childFlags) {

  /** Parses the command line; null means {@code --help}. */
  static @Nullable AttackBenchOptions parse(String[] args) {
    double seconds = 4;
    long budgetMib = 64;
    List<Scenario> scenarios = List.of(Scenario.values());
    List<String> childFlags = List.of("-Xmx256m", "-XX:MaxDirectMemorySize=256m");
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--help":
        case "-h":
          return null;
        case "--seconds":
          seconds = Double.parseDouble(value(args, ++i));
          if (!(seconds > 0 && seconds <= 600)) {
            throw new IllegalArgumentException("--seconds: " + seconds + " (expected: 0-600)");
          }
          break;
        case "--budget-mib":
          budgetMib = Long.parseLong(value(args, ++i));
          if (budgetMib <= 0) {
            throw new IllegalArgumentException("--budget-mib: " + budgetMib + " (expected: > 0)");
          }
          break;
        case "--attacks":
          List<Scenario> chosen = new ArrayList<>();
          for (String label : value(args, ++i).split(",")) {
            chosen.add(Scenario.parse(label.trim()));
          }
          scenarios = List.copyOf(chosen);
          break;
        case "--child-flags":
          List<String> flags = new ArrayList<>(List.of(value(args, ++i).trim().split("\\s+")));
          flags.removeIf(String::isEmpty);
          childFlags = List.copyOf(flags);
          break;
        default:
          throw new IllegalArgumentException("unknown option " + arg);
      }
    }
    return new AttackBenchOptions(seconds, budgetMib << 20, scenarios, childFlags);
  }

  private static String value(String[] args, int i) {
    if (i >= args.length) {
      throw new IllegalArgumentException(args[i - 1] + " needs a value");
    }
    return args[i];
  }
}
