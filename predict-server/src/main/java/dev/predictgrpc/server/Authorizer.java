/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

/**
 * Decides which principal may call which model; a refused call ends with PERMISSION_DENIED and
 * runs no model code. Checked for {@code Predict}, {@code PredictStream} and {@code
 * GetModelMetadata}.
 *
 * <pre>{@code
 * Authorizer onlyPipelinesScore = (principal, model) -> !model.equals("score") || principal.startsWith("pipeline");
 * }</pre>
 *
 * <p>Implementations must be thread-safe.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface Authorizer {
  /**
   * Returns true if {@code principal} may call {@code model}.
   *
   * @param principal what the {@link Authenticator} returned, or {@code "anonymous"} without one
   * @param model the model's name
   */
  boolean isAllowed(String principal, String model);

  /** Allows every principal every model: the default. */
  static Authorizer allowAll() {
    return (principal, model) -> true;
  }
}
