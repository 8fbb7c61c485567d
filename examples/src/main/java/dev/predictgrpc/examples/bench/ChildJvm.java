/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.common.ArrowSupport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * A child JVM the benchmark talks to by lines: it writes commands to the child's stdin and reads
 * answers from its stdout ({@code PORT n}, {@code STATS ...}, {@code DONE ...}). Closing stdin
 * (also what happens when the benchmark dies) tells the child to exit. The child's stderr goes to a
 * temporary log, shown if the child fails and deleted otherwise.
 */
final class ChildJvm implements AutoCloseable {
  private static final String EOF = "\u0000eof";
  private static final List<String> DROPPED_FLAG_PREFIXES =
      List.of(
          "-agentlib:",
          "-agentpath:",
          "-javaagent:",
          "-Xrunjdwp",
          "-XX:StartFlightRecording",
          "-XX:FlightRecorderOptions",
          "-Xlog:");

  /** Held so the level sticks: java.util.logging keeps only weak references to loggers. */
  private static final Logger ARROW_LOGGER = Logger.getLogger("org.apache.arrow");

  private final String name;
  private final Process process;
  private final Writer stdin;
  private final BlockingQueue<String> stdout = new LinkedBlockingQueue<>();
  private final Path log;
  private boolean failed;

  private ChildJvm(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
    this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader lines =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                  stdout.add(line);
                }
              } catch (IOException e) {
                // The child is gone; EOF below says so.
              }
              stdout.add(EOF);
            },
            name + "-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Sets up a benchmark JVM as the examples' {@code Main} does: Netty's Unsafe on (JDK 24+; before
   * any Netty class loads), Arrow's start-up banner off, and the Arrow flags checked.
   */
  static void prepareThisJvm() {
    if (System.getProperty("io.netty.noUnsafe") == null) {
      System.setProperty("io.netty.noUnsafe", "false");
    }
    ARROW_LOGGER.setLevel(Level.WARNING);
    ArrowSupport.checkJvm();
  }

  /**
   * The flags every child JVM gets: this JVM's own (less agents, debuggers, JFR and logging, which
   * would clash between processes), the flags Arrow needs, and {@code extra}.
   */
  static List<String> childFlags(List<String> extra) {
    List<String> flags = new ArrayList<>();
    for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (DROPPED_FLAG_PREFIXES.stream().noneMatch(flag::startsWith)) {
        flags.add(flag);
      }
    }
    // `java -jar` gets Add-Opens from the jar manifest, which does not reach a -cp launch.
    addIfMissing(flags, ArrowSupport.ADD_OPENS);
    if (Runtime.version().feature() >= 24) {
      addIfMissing(flags, ArrowSupport.NETTY_NO_UNSAFE);
      addIfMissing(flags, "--sun-misc-unsafe-memory-access=allow");
      addIfMissing(flags, "--enable-native-access=ALL-UNNAMED");
    }
    flags.addAll(extra);
    return flags;
  }

  private static void addIfMissing(List<String> flags, String flag) {
    if (!flags.contains(flag)) {
      flags.add(flag);
    }
  }

  /** Starts {@code java <flags> -cp <this JVM's class path> <main> <args>}. */
  static ChildJvm start(String name, List<String> flags, Class<?> main, List<String> args)
      throws IOException {
    return start(name, List.of(), flags, main, args);
  }

  /**
   * As {@link #start(String, List, Class, List)}, run through {@code launcher} (such as {@code ip
   * netns exec NS}), which must exec the command it is given so that stdin and stdout stay the
   * child's.
   */
  static ChildJvm start(
      String name, List<String> launcher, List<String> flags, Class<?> main, List<String> args)
      throws IOException {
    List<String> command = new ArrayList<>(launcher);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(flags);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    command.addAll(args);
    Path log = Files.createTempFile("predict-grpc-bench-" + name + "-", ".log");
    Process process =
        new ProcessBuilder(command)
            .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    return new ChildJvm(name, process, log);
  }

  long pid() {
    return process.pid();
  }

  /** Sends one command line. */
  void send(String line) throws IOException {
    try {
      stdin.write(line);
      stdin.write('\n');
      stdin.flush();
    } catch (IOException e) {
      throw failure("could not be sent '" + line + "'", e);
    }
  }

  /** Waits for the next stdout line that starts with {@code prefix}; skips others. */
  String expect(String prefix, Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String line = left > 0 ? stdout.poll(left, TimeUnit.NANOSECONDS) : null;
      if (line == null) {
        throw failure(
            "sent no '" + prefix.trim() + "' line within " + timeout.toSeconds() + " s", null);
      }
      if (line.equals(EOF)) {
        stdout.add(EOF);
        process.waitFor(5, TimeUnit.SECONDS);
        throw failure("exited before sending '" + prefix.trim() + "'", null);
      }
      if (line.startsWith(prefix)) {
        return line.substring(prefix.length());
      }
    }
  }

  /** Asks for, and returns, the child's {@link ProcessStats}. */
  ProcessStats stats() throws IOException, InterruptedException {
    send("stats");
    return ProcessStats.parse(
        ProcessStats.PREFIX + expect(ProcessStats.PREFIX, Duration.ofSeconds(30)));
  }

  private IOException failure(String what, @Nullable Exception cause) {
    failed = true;
    String exit = process.isAlive() ? "running" : "exit status " + process.exitValue();
    return new IOException(
        "child JVM '" + name + "' (" + exit + ") " + what + "; its stderr:\n" + tail(), cause);
  }

  private String tail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Closes stdin, waits for the child to exit (then kills it), and removes its log. */
  @Override
  public void close() {
    try {
      stdin.close();
    } catch (IOException e) {
      // Already gone.
    }
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    boolean clean = !process.isAlive() && process.exitValue() == 0;
    if (clean && !failed) {
      try {
        Files.deleteIfExists(log);
      } catch (IOException e) {
        // A leftover temp file is harmless.
      }
    } else if (!failed) {
      System.err.println("bench: child JVM '" + name + "' did not exit cleanly; its log: " + log);
    }
  }
}
