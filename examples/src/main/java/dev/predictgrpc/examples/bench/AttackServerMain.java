/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.examples.attack.AttackServer;
import dev.predictgrpc.examples.attack.ServerWatch;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The server the {@code attack} benchmark attacks, in its own JVM: {@code AttackServerMain
 * <serverMemoryBytes>}, the library's default limits otherwise. Prints {@code PORT n} once
 * listening on loopback; on stdin, {@code mark} starts a new measurement window (answered with
 * {@code MARKED}), {@code stats} reports its peaks as one {@code ATTACKSTATS ...} line, and {@code
 * logs} what the server logged in it, one {@code ATTACKLOG count<TAB>line} per distinct line and
 * then {@code ATTACKLOG END}; it shuts down when stdin ends.
 */
public final class AttackServerMain {
  static final String STATS_PREFIX = "ATTACKSTATS ";
  static final String LOG_PREFIX = "ATTACKLOG ";
  static final String LOG_END = LOG_PREFIX + "END";

  private AttackServerMain() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.prepareThisJvm();
    ServerLimits limits =
        ServerLimits.builder().maxServerMemoryBytes(Long.parseLong(args[0])).build();
    try (BufferAllocator allocator = new RootAllocator();
        PredictServer server = AttackServer.start(allocator, limits, 100);
        ServerWatch watch =
            ServerWatch.start(server.service()::allocatedBytes, Duration.ofMillis(2));
        LogTally logs = LogTally.start()) {
      System.out.println("PORT " + server.port());
      System.out.flush();
      BufferedReader commands =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = commands.readLine(); line != null; line = commands.readLine()) {
        if (line.equals("mark")) {
          watch.reset();
          logs.clear();
          System.out.println("MARKED");
        } else if (line.equals("logs")) {
          logs.counts().forEach((text, n) -> System.out.println(LOG_PREFIX + n + "\t" + text));
          System.out.println(LOG_END);
        } else if (line.equals("stats")) {
          ServerWatch.Peaks peaks = watch.peaks();
          System.out.println(
              String.format(
                  Locale.ROOT,
                  "%sarrow=%d direct=%d heap=%d rss=%d threads=%d arrownow=%d",
                  STATS_PREFIX,
                  peaks.arrowBytes(),
                  peaks.directBytes(),
                  peaks.heapBytes(),
                  peaks.rssBytes(),
                  peaks.serverThreads(),
                  server.service().allocatedBytes()));
        }
        System.out.flush();
      }
    }
    System.exit(0); // gRPC's and the call guard's threads need not hold the JVM open.
  }

  /**
   * Counts what the server logs at INFO and above (gRPC reports a connection it tore down at INFO),
   * by level and first line. Thread-safe.
   */
  private static final class LogTally extends Handler implements AutoCloseable {
    private static final int MAX_LINE_CHARS = 240;
    private final Map<String, Integer> counts = new LinkedHashMap<>();

    static LogTally start() {
      LogTally tally = new LogTally();
      tally.setLevel(Level.INFO);
      Logger.getLogger("").addHandler(tally);
      return tally;
    }

    @Override
    public synchronized void publish(LogRecord record) {
      if (!isLoggable(record)) {
        return;
      }
      String text =
          record.getLevel()
              + " "
              + record.getLoggerName()
              + ": "
              + record.getMessage()
              + (record.getThrown() == null ? "" : " " + record.getThrown());
      text = text.replace('\n', ' ').replace('\t', ' ');
      if (text.length() > MAX_LINE_CHARS) {
        text = text.substring(0, MAX_LINE_CHARS) + "...";
      }
      counts.merge(text, 1, Integer::sum);
    }

    synchronized Map<String, Integer> counts() {
      return new LinkedHashMap<>(counts);
    }

    synchronized void clear() {
      counts.clear();
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
      Logger.getLogger("").removeHandler(this);
    }
  }
}
