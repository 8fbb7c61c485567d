/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * One attack's stage: a server under attack on loopback TCP, channels for the attacker (from
 * 127.0.0.2, so the server sees another client), a well-behaved client on its own connection, a
 * watch on the server's memory and threads, and a capture of what the server logs. {@link #finish}
 * stops the instruments, prints the attack's report line and returns it for assertions; {@link
 * #close()} releases everything, the server last, so that the test's allocator can prove nothing
 * leaked.
 *
 * <p>Not thread-safe: one test thread drives it (the attack's own threads only use channels).
 */
final class AttackHarness implements AutoCloseable {
  /** How long the well-behaved client gives each call: failures must be refusals, not waits. */
  static final Duration GOOD_CLIENT_DEADLINE = Duration.ofSeconds(20);

  /** What one attack did, as the test report prints it. */
  record Report(
      String attack,
      StatusTally outcome,
      ServerWatch.Peaks peaks,
      long allocatorPeakBytes,
      long heapGrowthBytes,
      WellBehavedClient.Result client) {
    @Override
    public String toString() {
      return "ATTACK "
          + attack
          + "\n  outcome:     "
          + outcome
          + "\n  server:      peaks "
          + peaks.summary()
          + "; service allocator's own peak "
          + ServerWatch.mib(allocatorPeakBytes)
          + "; heap growth after GC "
          + ServerWatch.mib(heapGrowthBytes)
          + "\n  good client: "
          + client.summary();
    }
  }

  final PredictServer server;
  final ServerLimits limits;
  final StatusTally outcome = new StatusTally();
  final LogCapture logs = LogCapture.start();
  private final BufferAllocator allocator;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final List<AutoCloseable> resources = new ArrayList<>();
  private final ServerWatch watch;
  private final long heapBefore;
  private @Nullable WellBehavedClient goodClient;

  private AttackHarness(BufferAllocator allocator, ServerLimits limits, long sleepMillis)
      throws IOException, InterruptedException {
    this.allocator = allocator;
    this.limits = limits;
    this.server = AttackServer.start(allocator, limits, sleepMillis);
    this.heapBefore = ServerWatch.heapAfterGc();
    this.watch = ServerWatch.start(server.service()::allocatedBytes, Duration.ofMillis(2));
  }

  /**
   * Starts a server with {@code limits} and a well-behaved client calling it. The server's calls
   * allocate from a child of {@code allocator}; the harness does not take ownership of it.
   */
  static AttackHarness start(BufferAllocator allocator, ServerLimits limits)
      throws IOException, InterruptedException {
    return start(allocator, limits, 0);
  }

  /** As {@link #start(BufferAllocator, ServerLimits)}, with the {@code sleepy} model's delay. */
  static AttackHarness start(BufferAllocator allocator, ServerLimits limits, long sleepMillis)
      throws IOException, InterruptedException {
    AttackHarness harness = new AttackHarness(allocator, limits, sleepMillis);
    harness.goodClient =
        WellBehavedClient.start(
            harness.target(), allocator, GOOD_CLIENT_DEADLINE, Duration.ofMillis(5));
    // Let it make a few calls before the attack begins, so its figures include calm ones.
    Thread.sleep(100);
    return harness;
  }

  String target() {
    return "127.0.0.1:" + server.port();
  }

  /**
   * A new attacker channel (its own TCP connection, from the attacker's address), shut down by
   * {@link #close()}.
   */
  ManagedChannel channel() {
    ManagedChannel channel = AttackerChannels.open(server.port());
    channels.add(channel);
    return channel;
  }

  /** A raw HTTP/2 connection from the attacker's address, closed by {@link #close()}. */
  RawHttp2Connection rawConnection() throws InterruptedException {
    RawHttp2Connection connection = AttackerChannels.raw(server.port());
    resources.add(connection);
    return connection;
  }

  /** The server's Arrow memory in use now. */
  long arrowBytes() {
    return server.service().allocatedBytes();
  }

  /** Waits up to {@code timeout} for every call to release its Arrow memory. */
  void awaitArrowReleased(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (arrowBytes() != 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(arrowBytes()).as("Arrow memory still held after the attack").isZero();
  }

  /**
   * Stops the well-behaved client and the watch, measures the heap while whatever the attack still
   * holds is held, prints the report and returns it.
   */
  Report finish(String attack) throws InterruptedException {
    WellBehavedClient.Result client = goodClient.stop();
    goodClient = null;
    long heapGrowth = ServerWatch.heapAfterGc() - heapBefore;
    watch.close();
    Report report =
        new Report(
            attack,
            outcome,
            watch.peaks(),
            server.service().peakAllocatedBytes(),
            heapGrowth,
            client);
    System.out.println(report);
    return report;
  }

  @Override
  public void close() throws Exception {
    if (goodClient != null) {
      goodClient.stop();
    }
    watch.close();
    logs.close();
    for (AutoCloseable resource : resources) {
      resource.close();
    }
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
    }
    for (ManagedChannel channel : channels) {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    server.close();
  }
}
