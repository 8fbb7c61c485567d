/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import io.grpc.Status;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Counts how an attack's calls ended, by status code (or another outcome such as "OPEN" for a call
 * still open when the attack stopped), and keeps the first message of each, to report what the
 * server answered. Thread-safe.
 */
public final class StatusTally {
  /** A call the server had not ended when the attack stopped. */
  public static final String OPEN = "OPEN";

  private final Map<String, Long> counts = new LinkedHashMap<>();
  private final Map<String, String> firstMessages = new LinkedHashMap<>();

  /** Counts one call's final status. */
  public void add(Status status) {
    add(status.getCode().name(), 1, status.getDescription());
  }

  /** Counts one outcome that is not a status, such as {@link #OPEN}. */
  public void add(String outcome, String message) {
    add(outcome, 1, message);
  }

  /** Counts {@code times} outcomes at once. */
  public synchronized void add(String outcome, long times, String message) {
    counts.merge(outcome, times, Long::sum);
    if (message != null) {
      firstMessages.putIfAbsent(outcome, message);
    }
  }

  /** How many calls ended with {@code code}. */
  public int count(Status.Code code) {
    return (int) count(code.name());
  }

  /** How many calls ended with {@code outcome}. */
  public synchronized long count(String outcome) {
    return counts.getOrDefault(outcome, 0L);
  }

  /** All outcomes counted. */
  public synchronized int total() {
    return (int) counts.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The first message seen with {@code code}, or null. */
  public String firstMessage(Status.Code code) {
    return firstMessage(code.name());
  }

  /** The first message seen with {@code outcome}, or null. */
  public synchronized String firstMessage(String outcome) {
    return firstMessages.get(outcome);
  }

  /** "DEADLINE_EXCEEDED x39, RESOURCE_EXHAUSTED x2". */
  public synchronized String codes() {
    StringJoiner out = new StringJoiner(", ");
    counts.forEach((outcome, n) -> out.add(outcome + " x" + n));
    return counts.isEmpty() ? "none" : out.toString();
  }

  /** Each outcome with its count and first message. */
  @Override
  public synchronized String toString() {
    StringJoiner out = new StringJoiner("; ");
    counts.forEach(
        (outcome, n) ->
            out.add(
                outcome
                    + " x"
                    + n
                    + (firstMessages.containsKey(outcome)
                        ? " (\"" + firstMessages.get(outcome) + "\")"
                        : "")));
    return counts.isEmpty() ? "none" : out.toString();
  }
}
