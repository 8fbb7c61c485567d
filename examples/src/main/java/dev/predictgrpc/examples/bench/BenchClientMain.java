/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * A benchmark client in its own JVM, for the memory runs: {@code BenchClientMain <transport>
 * <model> <rows> <batchRows>}. Starts at once (so its start-up overlaps the server's), waits for
 * {@code go <port>} on stdin, streams the table once, then prints {@code DONE rows=.. seconds=..}
 * and a {@link ProcessStats} line and exits.
 */
public final class BenchClientMain {
  private BenchClientMain() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.prepareThisJvm();
    Transport transport = Transport.parse(args[0]);
    String model = args[1];
    long rows = Long.parseLong(args[2]);
    int batchRows = Integer.parseInt(args[3]);
    BufferedReader commands =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String go = commands.readLine();
    if (go == null || !go.startsWith("go ")) {
      System.exit(1);
    }
    int port = Integer.parseInt(go.substring(3).trim());
    try (BufferAllocator allocator = new RootAllocator();
        BenchTable table = new BenchTable(allocator, batchRows);
        BenchClient client = transport.connect(port, allocator, table)) {
      long start = System.nanoTime();
      long received = client.stream(model, rows);
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(Locale.ROOT, "DONE rows=%d seconds=%.3f%n", received, seconds);
      System.out.println(ProcessStats.sample(allocator).toLine());
      System.out.flush();
    }
    System.exit(0);
  }
}
