/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The client that {@link FaultToleranceTest} runs in a child JVM and then kills: it streams an
 * endless generated table to a model and prints {@code streaming} once results arrive.
 *
 * <p>Usage: {@code StreamingChildClient <host:port> <model>}. It never ends by itself while its
 * parent lives; it exits when its stdin closes (the parent died without killing it) or after two
 * minutes, so a failed test cannot leave it running.
 */
final class StreamingChildClient {
  static final String STREAMING = "streaming";
  private static final int COLUMNS = 4;
  private static final int ROWS = 1024;

  private StreamingChildClient() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: StreamingChildClient <host:port> <model>");
      System.exit(64);
    }
    exitWhenOrphaned();
    try (BufferAllocator allocator = new RootAllocator();
        PredictClient client = PredictClient.builder(args[0], allocator).build();
        GeneratedBatches table = GeneratedBatches.endless(allocator, COLUMNS, ROWS);
        PredictionStream results = client.predictStream(ModelRef.of(args[1]), table)) {
      long batch = 0;
      while (results.next()) {
        GeneratedBatches.check(results.root(), batch, COLUMNS, ROWS);
        if (batch == 0) {
          System.out.println(STREAMING);
          System.out.flush();
        }
        batch++;
      }
      System.out.println("the endless stream ended after " + batch + " batches");
    }
    System.exit(1);
  }

  private static void exitWhenOrphaned() {
    Thread stdin =
        new Thread(
            () -> {
              try (InputStream in = System.in) {
                while (in.read() != -1) {
                  // The parent sends nothing; end of input means it is gone.
                }
              } catch (IOException e) {
                // Treated as end of input.
              }
              System.exit(3);
            },
            "orphan-watch");
    stdin.setDaemon(true);
    stdin.start();
    Thread timeout =
        new Thread(
            () -> {
              try {
                TimeUnit.MINUTES.sleep(2);
              } catch (InterruptedException e) {
                return;
              }
              System.exit(2);
            },
            "child-timeout");
    timeout.setDaemon(true);
    timeout.start();
  }
}
