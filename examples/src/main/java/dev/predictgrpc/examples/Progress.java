/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress line for long streams: rows, rows/s and MB/s, redrawn in place on a terminal and
 * printed every few seconds otherwise (so logs stay readable). Not thread-safe.
 */
public final class Progress {
  private static final long REDRAW_NANOS = 100_000_000L;
  private static final long LOG_NANOS = 2_000_000_000L;

  private final PrintStream out;
  private final long totalRows;
  private final double bytesPerRow;
  private final boolean terminal;
  private final long start = System.nanoTime();
  private long lastPrint;

  /**
   * @param totalRows the expected total, or -1 if unknown (no bar is drawn then)
   * @param bytesPerRow input bytes per row, for MB/s
   */
  public Progress(PrintStream out, long totalRows, double bytesPerRow) {
    this.out = out;
    this.totalRows = totalRows;
    this.bytesPerRow = bytesPerRow;
    this.terminal = System.console() != null;
    this.lastPrint = start;
  }

  /** Reports {@code rows} done so far; prints only if enough time has passed. */
  public void update(long rows) {
    long now = System.nanoTime();
    if (now - lastPrint < (terminal ? REDRAW_NANOS : LOG_NANOS)) {
      return;
    }
    lastPrint = now;
    String line = line(rows, now);
    if (terminal) {
      out.print("\r" + line + "\u001b[K");
    } else {
      out.println(line);
    }
    out.flush();
  }

  /** Prints the final line and ends it. */
  public void finish(long rows) {
    String line = line(rows, System.nanoTime());
    out.println(terminal ? "\r" + line + "\u001b[K" : line);
  }

  /** Seconds since the progress started. */
  public double elapsedSeconds() {
    return (System.nanoTime() - start) / 1e9;
  }

  private String line(long rows, long now) {
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    String bar = "";
    if (totalRows > 0) {
      int width = 30;
      int filled = (int) Math.min(width, rows * width / totalRows);
      bar = "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] ";
    }
    return String.format(
        Locale.ROOT,
        "  %s%,d rows  %,.0f rows/s  %.1f MB/s",
        bar,
        rows,
        rows / seconds,
        rows * bytesPerRow / seconds / 1e6);
  }
}
