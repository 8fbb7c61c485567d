/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

/**
 * One version of a hosted model and where it is in its life, as {@link ModelManager#list()}
 * reports it. Immutable.
 *
 * @param name the model's name
 * @param version the version
 * @param state loading, serving or draining
 * @since 0.2
 */
public record ModelVersion(String name, String version, ModelState state) {
  /** Checks the components are present. */
  public ModelVersion {
    requireNonNull(name, "name");
    requireNonNull(version, "version");
    requireNonNull(state, "state");
  }
}
