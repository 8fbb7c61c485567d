/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.spark;

import dev.predictgrpc.client.PredictClient;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * One {@link PredictClient} per target per JVM, shared by every task an executor runs: the client
 * is thread-safe, and one client means one set of connections and one health-checked balancer per
 * executor rather than one per partition. Created on first use; closed, with its allocator, when
 * the JVM exits. This class is thread-safe.
 */
final class ExecutorClients {
  private static final Map<String, Entry> CLIENTS = new ConcurrentHashMap<>();
  private static final AtomicInteger CREATED = new AtomicInteger();

  static {
    Runtime.getRuntime()
        .addShutdownHook(new Thread(ExecutorClients::closeAll, "predictgrpc-spark-clients-close"));
  }

  private ExecutorClients() {}

  /**
   * The shared client for {@code target}: one address, a DNS target, or comma-separated addresses
   * of replicas. Borrowed: never close it.
   */
  static PredictClient get(String target) {
    return CLIENTS.computeIfAbsent(target, ExecutorClients::open).client;
  }

  /**
   * The allocator of the shared client for {@code target}, for partitions to take named children
   * of. Borrowed: never close it.
   */
  static BufferAllocator allocator(String target) {
    return CLIENTS.computeIfAbsent(target, ExecutorClients::open).allocator;
  }

  /** How many clients this JVM has created (a test checks it is one per target, not per task). */
  static int created() {
    return CREATED.get();
  }

  /** Closes every client and its allocator; later calls to {@link #get} create new ones. */
  static void closeAll() {
    List<String> targets = new ArrayList<>(CLIENTS.keySet());
    for (String target : targets) {
      Entry entry = CLIENTS.remove(target);
      if (entry != null) {
        entry.client.close();
        entry.allocator.close();
      }
    }
  }

  private static Entry open(String target) {
    CREATED.incrementAndGet();
    BufferAllocator allocator = new RootAllocator();
    List<String> addresses = Arrays.asList(target.split(","));
    PredictClient client =
        addresses.size() == 1
            ? PredictClient.builder(target, allocator).build()
            : PredictClient.builder(addresses, allocator).build();
    return new Entry(allocator, client);
  }

  private static final class Entry {
    final BufferAllocator allocator;
    final PredictClient client;

    Entry(BufferAllocator allocator, PredictClient client) {
      this.allocator = allocator;
      this.client = client;
    }
  }
}
