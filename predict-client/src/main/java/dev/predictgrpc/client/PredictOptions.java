/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import io.grpc.CallOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Settings for one call: its deadline, the model version and request parameters. Immutable and
 * thread-safe; the {@code with} methods return new instances, so one instance can be kept in a
 * constant and shared.
 *
 * <pre>{@code
 * PredictOptions fast = PredictOptions.defaults().withDeadline(Duration.ofMillis(200));
 * try (Prediction p = client.predict("iris", input, fast.withVersion("2"))) {
 *   System.out.println("answered by version " + p.modelVersion());
 * }
 * }</pre>
 *
 * <p>Options apply on top of what the call already names: a deadline set here replaces the
 * client's default deadline for this call; a version set here replaces the {@link ModelRef}'s; the
 * parameters here are added to the {@link ModelRef}'s, replacing those of the same key. Unset
 * options leave the call as it would be without them.
 *
 * @since 0.1
 */
public final class PredictOptions {
  private static final PredictOptions DEFAULTS = new PredictOptions(null, "", Map.of());

  private final @Nullable Duration deadline;
  private final String version;
  private final Map<String, String> parameters;

  private PredictOptions(
      @Nullable Duration deadline, String version, Map<String, String> parameters) {
    this.deadline = deadline;
    this.version = version;
    this.parameters = parameters;
  }

  /** No options: the client's deadline, the model reference's version and parameters. */
  public static PredictOptions defaults() {
    return DEFAULTS;
  }

  /**
   * The same options with a deadline for this call, counted from when the call starts.
   *
   * @throws IllegalArgumentException if {@code deadline} is zero or negative
   */
  public PredictOptions withDeadline(Duration deadline) {
    requireNonNull(deadline, "deadline");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline: " + deadline + " (expected: > 0)");
    }
    return new PredictOptions(deadline, version, parameters);
  }

  /** The same options asking for one model version; empty means the latest. */
  public PredictOptions withVersion(String version) {
    return new PredictOptions(deadline, requireNonNull(version, "version"), parameters);
  }

  /** The same options with one more request parameter (replacing one of the same key). */
  public PredictOptions withParameter(String key, String value) {
    Map<String, String> copy = new LinkedHashMap<>(parameters);
    copy.put(requireNonNull(key, "key"), requireNonNull(value, "value"));
    return new PredictOptions(deadline, version, Map.copyOf(copy));
  }

  /** The call's deadline, or null to use the client's. */
  public @Nullable Duration deadline() {
    return deadline;
  }

  /** The version asked for; empty to use the model reference's. */
  public String version() {
    return version;
  }

  /** Parameters added to the model reference's (unmodifiable). */
  public Map<String, String> parameters() {
    return parameters;
  }

  /** {@code model} with this call's version and parameters applied. */
  ModelRef apply(ModelRef model) {
    ModelRef result = version.isEmpty() ? model : model.withVersion(version);
    for (Map.Entry<String, String> parameter : parameters.entrySet()) {
      result = result.withParameter(parameter.getKey(), parameter.getValue());
    }
    return result;
  }

  /** The gRPC call options: this deadline, or else the client's {@code fallback}. */
  CallOptions callOptions(@Nullable Duration fallback) {
    Duration effective = deadline != null ? deadline : fallback;
    return effective == null
        ? CallOptions.DEFAULT
        : CallOptions.DEFAULT.withDeadlineAfter(effective.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof PredictOptions)) {
      return false;
    }
    PredictOptions other = (PredictOptions) o;
    return java.util.Objects.equals(deadline, other.deadline)
        && version.equals(other.version)
        && parameters.equals(other.parameters);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(deadline, version, parameters);
  }

  @Override
  public String toString() {
    return "PredictOptions{deadline=" + deadline + ", version='" + version + "', parameters="
        + parameters + "}";
  }
}
