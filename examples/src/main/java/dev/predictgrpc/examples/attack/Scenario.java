/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One attack as the {@code attack} benchmark runs it: for a given time, against a server at a
 * loopback port, from the attacker's own address ({@link AttackerChannels}), counting how the
 * attacker's calls ended. Each scenario opens its own connections and closes them (cancelling
 * whatever is still open) when its time is up, so the next one starts from a quiet server. A
 * scenario holds no state between runs; run one at a time per server, so its figures are its own.
 */
public enum Scenario {
  /** No attack: the well-behaved client alone. */
  BASELINE("baseline") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      Thread.sleep(duration.toMillis());
    }
  },

  /** 60 streams announce a 62 MB batch body each, send 600 bytes of it and go quiet. */
  BODY_RESERVATION("body-reservation") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      ManagedChannel channel = target.channel();
      List<HostileStream> streams = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        streams.add(
            HostileStream.open(channel)
                .header("echo")
                .chunk(HostileIpc.announcedBody(4, 3_900_000))
                .chunk(IpcWriter.zeros(600)));
      }
      Thread.sleep(duration.toMillis());
      endAll(streams, tally);
    }
  },

  /**
   * Held input up to the server's budget ({@link BudgetFiller}), kept alive with empty chunks for
   * the rest of the time.
   */
  BUDGET_FILL("budget-fill") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      long start = System.nanoTime();
      BudgetFiller filler = BudgetFiller.fill(target.channel(), 60, duration, tally);
      Duration left = duration.minusNanos(System.nanoTime() - start);
      if (!left.isNegative()) {
        filler.keepAlive(Duration.ofMillis(200), left, 60);
      }
      endAll(filler.holding(), tally);
    }
  },

  /**
   * Batches declaring far more than they carry, eight calls in flight, unary and streams
   * alternating: 2^31-1 values in 64 columns, 64 columns at the row limit without bitmaps, 1,000
   * empty struct columns of 4M rows, a header claiming 3.9M buffers.
   */
  DECLARED_SIZES("declared-sizes") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      ManagedChannel channel = target.channel();
      List<ByteString> inputs =
          List.of(
              HostileIpc.rowsDeclared(64, Integer.MAX_VALUE, Integer.MAX_VALUE),
              HostileIpc.rowsDeclared(64, 4 << 20, 4 << 20),
              HostileIpc.emptyStructs(1_000, 4 << 20),
              HostileIpc.bufferCountClaimed(3_900_000));
      int[] next = {0};
      AttackLoop.run(
          duration,
          Integer.MAX_VALUE,
          8,
          tally,
          () -> {
            int i = next[0]++;
            ByteString input = inputs.get(i % inputs.size());
            return i % 2 == 0
                ? HostileUnary.start(
                    channel, HostileUnary.request("echo", input), false, Duration.ofSeconds(30))
                : HostileStream.send(channel, "echo", input, 64 << 10);
          });
    }
  },

  /**
   * Calls that hold server state while sending nothing: 300 PredictStream calls that never send a
   * header (three connections), and 64 that send only a header.
   */
  IDLE_STREAMS("idle-streams") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      List<HostileStream> streams = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        ManagedChannel channel = target.channel();
        for (int i = 0; i < 100; i++) {
          streams.add(HostileStream.open(channel));
        }
      }
      ManagedChannel headers = target.channel();
      for (int i = 0; i < 64; i++) {
        streams.add(HostileStream.open(headers).header("echo"));
      }
      Thread.sleep(duration.toMillis());
      endAll(streams, tally);
    }
  },

  /** 100 unary calls of 4 MiB, each sent but for its last byte, over raw HTTP/2. */
  STALLED_UNARY("stalled-unary") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      byte[] framed =
          RawHttp2Connection.grpcFrame(
              HostileUnary.request("echo", IpcWriter.zeros((4 << 20) - 64)).toByteArray());
      try (RawHttp2Connection connection = AttackerChannels.raw(target.port)) {
        List<RawHttp2Connection.RawCall> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          calls.add(
              connection
                  .openCall(RawHttp2Connection.PREDICT_PATH)
                  .data(framed, 0, framed.length - 1, false));
        }
        Thread.sleep(duration.toMillis());
        for (RawHttp2Connection.RawCall call : calls) {
          Status status = call.status().getNow(null);
          if (status != null) {
            tally.add(status);
          } else {
            tally.add(StatusTally.OPEN, "still open when the attack ended");
          }
        }
      }
    }
  },

  /**
   * HEADERS and RST_STREAM pairs as fast as the socket takes them, reconnecting each time the
   * server closes the connection.
   */
  RAPID_RESET("rapid-reset") {
    @Override
    void attack(Target target, Duration duration, StatusTally tally) throws InterruptedException {
      long deadline = System.nanoTime() + duration.toNanos();
      long resets = 0;
      while (System.nanoTime() < deadline) {
        try (RawHttp2Connection connection = AttackerChannels.raw(target.port)) {
          Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
          resets +=
              connection.rapidReset(
                  RawHttp2Connection.PREDICT_STREAM_PATH, Integer.MAX_VALUE, left);
          try {
            connection
                .closed()
                .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            tally.add(
                "CONNECTION_CLOSED",
                "by the server"
                    + (connection.goAway().isDone()
                        ? " with GOAWAY " + connection.goAway().join().debugData()
                        : ""));
          } catch (java.util.concurrent.ExecutionException
              | java.util.concurrent.TimeoutException e) {
            tally.add(StatusTally.OPEN, "connection still open when the attack ended");
          }
        }
      }
      tally.add("RST_STREAM", resets, "HEADERS + RST_STREAM pairs written");
    }
  };

  private final String label;

  Scenario(String label) {
    this.label = label;
  }

  /** The name used on the command line and in reports. */
  public String label() {
    return label;
  }

  /** The scenario called {@code label}. */
  public static Scenario parse(String label) {
    for (Scenario scenario : values()) {
      if (scenario.label.equals(label)) {
        return scenario;
      }
    }
    throw new IllegalArgumentException("unknown attack " + label);
  }

  /**
   * Attacks the server at {@code port} for about {@code duration}, adding each attacker call's
   * outcome to {@code tally}; every connection it opened is closed when it returns.
   */
  public void run(int port, Duration duration, StatusTally tally) throws InterruptedException {
    try (Target target = new Target(port)) {
      attack(target, duration, tally);
    }
  }

  abstract void attack(Target target, Duration duration, StatusTally tally)
      throws InterruptedException;

  /** Counts how each stream ended, or that it was still open, and cancels those still open. */
  private static void endAll(List<HostileStream> streams, StatusTally tally) {
    for (HostileStream stream : streams) {
      if (stream.isDone()) {
        tally.add(stream.status().join());
      } else {
        tally.add(StatusTally.OPEN, "still open when the attack ended");
        stream.cancel();
      }
    }
  }

  /** The attacked server and the channels a scenario opened to it. Not thread-safe. */
  static final class Target implements AutoCloseable {
    final int port;
    private final List<ManagedChannel> channels = new ArrayList<>();

    Target(int port) {
      this.port = port;
    }

    ManagedChannel channel() {
      ManagedChannel channel = AttackerChannels.open(port);
      channels.add(channel);
      return channel;
    }

    @Override
    public void close() throws InterruptedException {
      channels.forEach(ManagedChannel::shutdownNow);
      for (ManagedChannel channel : channels) {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}
