/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Logs at most one line per interval, and says how many it left out. For events a client can
 * cause at will (requests refused for memory), where a line per request would let one client
 * flood the server's log. Thread-safe.
 */
final class RateLimitedLog {
  private final Logger logger;
  private final long intervalNanos;
  private final AtomicLong nextAllowed = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong suppressed = new AtomicLong();

  RateLimitedLog(Logger logger, long intervalNanos) {
    this.logger = logger;
    this.intervalNanos = intervalNanos;
  }

  /** Logs {@code message} as one line without a stack trace, unless one was logged too recently. */
  void log(Level level, String message) {
    if (!logger.isLoggable(level)) {
      return;
    }
    long now = System.nanoTime();
    long allowed = nextAllowed.get();
    if ((allowed != Long.MIN_VALUE && now - allowed < 0)
        || !nextAllowed.compareAndSet(allowed, now + intervalNanos)) {
      suppressed.incrementAndGet();
      return;
    }
    long left = suppressed.getAndSet(0);
    // logp: the line names the logger, not this helper, as its source.
    logger.logp(
        level,
        logger.getName(),
        null,
        left == 0 ? message : message + " (and " + left + " more like it since)");
  }
}
