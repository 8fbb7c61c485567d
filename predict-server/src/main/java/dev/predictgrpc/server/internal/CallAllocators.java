/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.internal.ClientText;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Creates and closes the per-call child allocators of one service, and counts the open ones so
 * that the service can wait for its calls to let go of their memory before closing its own
 * allocator. (A gRPC server counts as terminated once its transports are closed, while a handler
 * thread of a cancelled call may still be unwinding.) Thread-safe.
 */
final class CallAllocators {
  private static final Logger logger = Logger.getLogger(CallAllocators.class.getName());
  private static final AtomicLong callIds = new AtomicLong();

  /** How every call allocator's name starts; the model's name and version follow. */
  static final String CALL_PREFIX = "call-";

  /** How every client's allocator name starts; the client's (capped) name follows. */
  static final String CLIENT_PREFIX = "client-";

  /** One client's share of the budget: the parent of its calls' allocators. */
  private static final class ClientShare {
    final BufferAllocator allocator;
    int calls;

    ClientShare(BufferAllocator allocator) {
      this.allocator = allocator;
    }
  }

  private final BufferAllocator parent;
  private final long clientLimit;
  /** Idle client shares kept open for their clients' next calls, beyond those with calls. */
  private static final int MAX_IDLE_CLIENT_SHARES = 256;

  private final Map<String, ClientShare> clients = new HashMap<>(); // Guarded by this.
  private int open; // Guarded by this.

  /**
   * @param parent the service's allocator, whose limit is the server-wide budget
   * @param clientLimit the most all calls of one client may hold together
   */
  CallAllocators(BufferAllocator parent, long clientLimit) {
    this.parent = parent;
    this.clientLimit = clientLimit;
  }

  /**
   * A named child allocator for one call of {@code client}; its limit is the per-call limit, and
   * it is a child of the client's own allocator, whose limit is the per-client share, itself a
   * child of the service's budget. Close it with {@link #close}.
   */
  BufferAllocator open(String model, String client, long limit) {
    ClientShare share;
    synchronized (this) {
      share =
          clients.computeIfAbsent(
              client,
              c ->
                  new ClientShare(
                      parent.newChildAllocator(
                          CLIENT_PREFIX + ClientText.name(c), 0, clientLimit)));
      share.calls++;
      open++;
    }
    try {
      return share.allocator.newChildAllocator(
          CALL_PREFIX + callIds.incrementAndGet() + "-" + model, 0, limit);
    } catch (RuntimeException e) {
      closed(client);
      throw e;
    }
  }

  /** Closes a call's allocator from {@link #open}; see {@link #release}. */
  void close(BufferAllocator allocator, String client) {
    try {
      release(allocator);
    } finally {
      closed(client);
    }
  }

  private synchronized void closed(String client) {
    ClientShare share = clients.get(client);
    // An idle share is kept for the client's next call (creating an allocator per unary call cost
    // a few microseconds), unless many clients have come and gone: then idle shares are closed as
    // they become idle, so the map never grows with every address that ever called.
    if (share != null && --share.calls == 0 && clients.size() > MAX_IDLE_CLIENT_SHARES) {
      clients.remove(client);
      release(share.allocator);
    }
    open--;
    notifyAll();
  }

  /** Closes the allocators of idle clients; call once no call can open any more. */
  synchronized void closeIdleShares() {
    clients.values().removeIf(
        share -> {
          if (share.calls == 0) {
            release(share.allocator);
            return true;
          }
          return false;
        });
  }

  /**
   * Waits up to {@code timeout} until every allocator from {@link #open} is closed.
   *
   * @return true if all are closed
   * @throws InterruptedException if interrupted while waiting
   */
  synchronized boolean awaitAllClosed(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (open > 0) {
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, remaining);
    }
    return true;
  }

  /**
   * Closes an allocator of a call or batch. A leak is logged with the allocator's account of what
   * is still held (the model's name is in the allocator's name) instead of failing a call whose
   * answer may already have been sent.
   */
  static void release(BufferAllocator allocator) {
    long leaked = allocator.getAllocatedMemory();
    if (leaked != 0) {
      logger.log(
          Level.SEVERE,
          "Arrow memory leaked by call " + allocator.getName() + ": " + leaked + " bytes\n"
              + allocator.toVerboseString());
    }
    try {
      allocator.close();
    } catch (IllegalStateException e) {
      logger.log(Level.SEVERE, "could not close allocator " + allocator.getName(), e);
    }
  }
}
