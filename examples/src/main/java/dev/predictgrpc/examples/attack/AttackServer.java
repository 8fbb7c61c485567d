/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import java.io.IOException;
import java.time.Duration;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Starts the server under attack: {@link AttackModels} on a loopback port chosen by the system,
 * with the given limits. Its calls take Arrow memory from a child of the caller's allocator. Holds
 * no state; safe from any thread.
 */
public final class AttackServer {
  /**
   * How long closing waits for calls in progress. Attackers' calls never finish on their own, so
   * waiting the default 30 s would only slow every test down.
   */
  private static final Duration GRACE = Duration.ofSeconds(1);

  private AttackServer() {}

  /**
   * The limits an attacked server runs with unless a test says otherwise: a small memory budget (so
   * that an attack that gets through shows at once), and the library's defaults for the rest.
   */
  public static ServerLimits.Builder smallBudget(long serverMemoryBytes) {
    return ServerLimits.builder().maxServerMemoryBytes(serverMemoryBytes);
  }

  /**
   * Starts a server on 127.0.0.1. The caller owns it and must close it; it does not take ownership
   * of {@code allocator}.
   *
   * @param sleepMillis how long the {@code sleepy} model sleeps per batch
   */
  public static PredictServer start(
      BufferAllocator allocator, ServerLimits limits, long sleepMillis) throws IOException {
    PredictServer.Builder builder =
        PredictServer.builder(allocator)
            .bindAddress("127.0.0.1")
            .port(0)
            .limits(limits)
            .shutdownGracePeriod(GRACE);
    for (ModelService model : AttackModels.all(sleepMillis)) {
      builder.addModel(model);
    }
    return builder.build().start();
  }
}
