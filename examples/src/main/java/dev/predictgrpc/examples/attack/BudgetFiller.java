/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fills a server's memory budget with input it must hold: streams that announce a 62 MB batch
 * body, send part of it and go quiet. The server counts every byte it holds against its budget,
 * so this attacker pays a byte for each byte it pins, but one client may pin the whole budget.
 *
 * <p>It sees only what any client sees, refusals: it fills with big pieces, and each time a
 * stream is refused (which frees that stream's bytes) it carries on with smaller pieces on new
 * streams, until the pieces are a few KiB. Not thread-safe; one attacker per instance.
 */
public final class BudgetFiller {
  private static final int COLUMNS = 4;
  private static final long ROWS = 3_900_000;
  /** The smallest piece worth sending: the server counts held input in 4 KiB granules. */
  private static final int SMALLEST_PIECE = 4 << 10;
  /** How long the server is given to count a piece before the next one goes out. */
  private static final long SETTLE_MILLIS = 3;

  private final Channel channel;
  private final StatusTally refusals;
  /** Open streams and the body bytes each has sent. */
  private final Map<HostileStream, Long> holding = new LinkedHashMap<>();

  private BudgetFiller(Channel channel, StatusTally refusals) {
    this.channel = channel;
    this.refusals = refusals;
  }

  /**
   * Fills the budget of the server behind {@code channel}, opening at most {@code maxStreams}
   * streams and stopping after {@code timeout}; the streams stay open, idle, until the server
   * ends them or {@link #cancel()}. Statuses of refused streams go to {@code refusals}.
   */
  public static BudgetFiller fill(
      Channel channel, int maxStreams, Duration timeout, StatusTally refusals)
      throws InterruptedException {
    BudgetFiller filler = new BudgetFiller(channel, refusals);
    filler.run(maxStreams, timeout);
    return filler;
  }

  private void run(int maxStreams, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int piece = 1 << 20;
    int opened = 0;
    while (opened < maxStreams && System.nanoTime() < deadline) {
      HostileStream stream = HostileStream.open(channel).header("echo");
      stream.chunk(HostileIpc.announcedBody(COLUMNS, ROWS));
      opened++;
      // Big pieces go eight to a stream; the last, smallest ones one to a stream, so that the
      // refusal that ends the fill frees no more than one granule.
      int pieces = piece > SMALLEST_PIECE ? 8 : 1;
      long sent = 0;
      for (int i = 0; i < pieces && !stream.isDone() && System.nanoTime() < deadline; i++) {
        stream.chunk(IpcWriter.zeros(piece));
        sent += piece;
        Thread.sleep(SETTLE_MILLIS);
      }
      Thread.sleep(SETTLE_MILLIS * 5);
      if (!stream.isDone()) {
        holding.put(stream, sent);
      } else {
        refusals.add(stream.status().join());
        if (piece == SMALLEST_PIECE) {
          break; // Less than a granule is left.
        }
        piece = Math.max(SMALLEST_PIECE, piece / 4);
      }
    }
    // A late refusal frees a stream's bytes; count only the streams still open.
    Thread.sleep(100);
    for (HostileStream stream : List.copyOf(holding.keySet())) {
      if (stream.isDone()) {
        holding.remove(stream);
        refusals.add(stream.status().join());
      }
    }
  }

  /**
   * Keeps the holding streams alive for {@code duration}: every {@code period}, an empty chunk on
   * each. An empty chunk costs the server no memory, but it is a message, and the server's idle
   * timeout counts the time between messages.
   */
  public void keepAlive(Duration period, Duration duration) throws InterruptedException {
    long deadline = System.nanoTime() + duration.toNanos();
    while (System.nanoTime() < deadline) {
      for (HostileStream stream : holding.keySet()) {
        if (!stream.isDone()) {
          stream.chunk(ByteString.EMPTY);
        }
      }
      Thread.sleep(period.toMillis());
    }
  }

  /** How many holding streams are still open. */
  public int stillOpen() {
    return (int) holding.keySet().stream().filter(s -> !s.isDone()).count();
  }

  /** The streams that were still open, holding their bytes, when filling stopped. */
  public List<HostileStream> holding() {
    return List.copyOf(holding.keySet());
  }

  /** Body bytes sent on streams still open when filling stopped (an upper bound of what is held). */
  public long bytesSent() {
    return holding.values().stream().mapToLong(Long::longValue).sum();
  }

  /**
   * Waits up to {@code timeout} for the server to end every holding stream.
   *
   * @return their statuses; a stream still open is left out
   */
  public List<Status> awaitEnded(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Status> statuses = new ArrayList<>();
    for (HostileStream stream : holding.keySet()) {
      Status status = stream.awaitStatus(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
      if (status != null) {
        statuses.add(status);
      }
    }
    return statuses;
  }

  /** Cancels every stream still open. */
  public void cancel() {
    holding.keySet().forEach(HostileStream::cancel);
  }
}
