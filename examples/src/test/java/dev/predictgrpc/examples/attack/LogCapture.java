/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Records what the server logs while an attack runs (by default WARNING and above from every
 * logger), so a test can check that an attack costs a rate-limited line, not a stack trace per
 * request, or that a transport limit tripped. Thread-safe.
 */
final class LogCapture extends Handler implements AutoCloseable {
  private static final Logger ROOT = Logger.getLogger("");

  private final List<LogRecord> records = new ArrayList<>();

  private final Logger logger;

  private LogCapture(Logger logger, Level level) {
    this.logger = logger;
    setLevel(level);
  }

  /** Captures WARNING and above from every logger. */
  static LogCapture start() {
    return start(ROOT, Level.WARNING);
  }

  /** Captures {@code level} and above from {@code logger} and its children. */
  static LogCapture start(Logger logger, Level level) {
    LogCapture capture = new LogCapture(logger, level);
    logger.addHandler(capture);
    return capture;
  }

  /** Whether any record's message (or its exception's) contains {@code text}. */
  synchronized boolean anyMentions(String text) {
    return records.stream()
        .anyMatch(
            r ->
                (r.getMessage() != null && r.getMessage().contains(text))
                    || (r.getThrown() != null && String.valueOf(r.getThrown()).contains(text)));
  }

  @Override
  public synchronized void publish(LogRecord record) {
    if (isLoggable(record)) {
      records.add(record);
    }
  }

  /** Records logged so far. */
  synchronized List<LogRecord> records() {
    return List.copyOf(records);
  }

  /** Records logged with a stack trace. */
  synchronized List<LogRecord> withStackTraces() {
    return records.stream().filter(r -> r.getThrown() != null).toList();
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
  }
}
