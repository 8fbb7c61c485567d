/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import io.grpc.Status;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts open streams per client and refuses those over the limit. Thread-safe. */
final class StreamLimiter {
  private final int maxPerClient;
  private final ConcurrentHashMap<String, AtomicInteger> open = new ConcurrentHashMap<>();

  StreamLimiter(int maxPerClient) {
    this.maxPerClient = maxPerClient;
  }

  /**
   * Takes a slot for {@code client}; pair with {@link #release}.
   *
   * @throws PredictException RESOURCE_EXHAUSTED if the client has the maximum open already
   */
  void acquire(String client) {
    AtomicInteger count = open.computeIfAbsent(client, c -> new AtomicInteger());
    if (count.incrementAndGet() > maxPerClient) {
      release(client);
      throw new PredictException(
          Status.Code.RESOURCE_EXHAUSTED,
          "client '" + ClientText.name(client) + "' already has " + maxPerClient
              + " streams open (limit maxConcurrentStreamsPerClient=" + maxPerClient + ")");
    }
  }

  void release(String client) {
    // Remove idle entries so the map does not grow with every client ever seen.
    open.computeIfPresent(client, (c, count) -> count.decrementAndGet() <= 0 ? null : count);
  }
}
