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
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The server the {@code attack} benchmark attacks, in its own JVM: {@code AttackServerMain
 * <serverMemoryBytes>}, the library's default limits otherwise. Prints {@code PORT n} once
 * listening on loopback; on stdin, {@code mark} starts a new measurement window (answered with
 * {@code MARKED}) and {@code stats} reports it as one {@code ATTACKSTATS ...} line; it shuts down
 * when stdin ends.
 */
public final class AttackServerMain {
  static final String STATS_PREFIX = "ATTACKSTATS ";

  private AttackServerMain() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.prepareThisJvm();
    ServerLimits limits =
        ServerLimits.builder().maxServerMemoryBytes(Long.parseLong(args[0])).build();
    try (BufferAllocator allocator = new RootAllocator();
        PredictServer server = AttackServer.start(allocator, limits, 100);
        ServerWatch watch =
            ServerWatch.start(server.service()::allocatedBytes, Duration.ofMillis(2))) {
      System.out.println("PORT " + server.port());
      System.out.flush();
      BufferedReader commands =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = commands.readLine(); line != null; line = commands.readLine()) {
        if (line.equals("mark")) {
          watch.reset();
          System.out.println("MARKED");
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
}
