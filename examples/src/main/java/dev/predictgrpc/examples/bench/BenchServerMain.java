/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * A benchmark server in its own JVM: {@code BenchServerMain <transport>}. Prints {@code PORT n}
 * once listening on loopback, answers each {@code stats} line on stdin with a {@link ProcessStats}
 * line, and shuts down when stdin ends.
 */
public final class BenchServerMain {
  private BenchServerMain() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.prepareThisJvm();
    Transport transport = Transport.parse(args[0]);
    try (BufferAllocator allocator = new RootAllocator();
        RunningServer server = transport.serve(allocator)) {
      System.out.println("PORT " + server.port());
      System.out.flush();
      BufferedReader commands =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = commands.readLine(); line != null; line = commands.readLine()) {
        if (line.equals("stats")) {
          System.out.println(ProcessStats.sample(allocator).toLine());
          System.out.flush();
        }
      }
    }
    System.exit(0); // gRPC and HttpServer pools need not hold the JVM open
  }
}
