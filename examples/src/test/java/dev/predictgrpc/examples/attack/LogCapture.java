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
 * Records what the server logs at WARNING and above while an attack runs (every logger reports to
 * the root one), so a test can check that an attack costs a rate-limited line, not a stack trace
 * per request. Thread-safe.
 */
final class LogCapture extends Handler implements AutoCloseable {
  private static final Logger ROOT = Logger.getLogger("");

  private final List<LogRecord> records = new ArrayList<>();

  private LogCapture() {
    setLevel(Level.WARNING);
  }

  static LogCapture start() {
    LogCapture capture = new LogCapture();
    ROOT.addHandler(capture);
    return capture;
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
    ROOT.removeHandler(this);
  }
}
