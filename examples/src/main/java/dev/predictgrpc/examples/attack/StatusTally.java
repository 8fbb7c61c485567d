/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import io.grpc.Status;
import java.util.EnumMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Counts the statuses an attack's calls ended with, and keeps the first message of each code, to
 * report what the server answered. Thread-safe.
 */
public final class StatusTally {
  private final Map<Status.Code, Integer> counts = new EnumMap<>(Status.Code.class);
  private final Map<Status.Code, String> firstMessages = new EnumMap<>(Status.Code.class);

  /** Counts one call's final status. */
  public synchronized void add(Status status) {
    counts.merge(status.getCode(), 1, Integer::sum);
    if (status.getDescription() != null) {
      firstMessages.putIfAbsent(status.getCode(), status.getDescription());
    }
  }

  /** Counts an outcome that is not a status, such as "GOAWAY" or "still open". */
  public synchronized void add(Status.Code code, String message) {
    counts.merge(code, 1, Integer::sum);
    firstMessages.putIfAbsent(code, message);
  }

  /** How many calls ended with {@code code}. */
  public synchronized int count(Status.Code code) {
    return counts.getOrDefault(code, 0);
  }

  /** All calls counted. */
  public synchronized int total() {
    return counts.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** The first message seen with {@code code}, or null. */
  public synchronized String firstMessage(Status.Code code) {
    return firstMessages.get(code);
  }

  /** "DEADLINE_EXCEEDED x39, RESOURCE_EXHAUSTED x2". */
  public synchronized String codes() {
    StringJoiner out = new StringJoiner(", ");
    counts.forEach((code, n) -> out.add(code + " x" + n));
    return counts.isEmpty() ? "none" : out.toString();
  }

  @Override
  public synchronized String toString() {
    StringJoiner out = new StringJoiner("; ");
    counts.forEach(
        (code, n) ->
            out.add(code + " x" + n + (firstMessages.containsKey(code)
                ? " (\"" + firstMessages.get(code) + "\")"
                : "")));
    return counts.isEmpty() ? "none" : out.toString();
  }
}
