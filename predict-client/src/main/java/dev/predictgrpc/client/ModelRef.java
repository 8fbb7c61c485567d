/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.api.v1.ModelSpec;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Names the model a call goes to: its name, optionally a version, and request parameters.
 * Immutable and thread-safe; the {@code with} methods return new instances.
 *
 * <pre>{@code
 * ModelRef iris = ModelRef.of("iris").withVersion("2").withParameter("threshold", "0.7");
 * }</pre>
 *
 * @since 0.1
 */
public final class ModelRef {
  private final String name;
  private final String version;
  private final Map<String, String> parameters;
  /** {@link #toSpec()}, once built; a benign race may build it twice (it is immutable). */
  private @Nullable ModelSpec spec;

  private ModelRef(String name, String version, Map<String, String> parameters) {
    this.name = name;
    this.version = version;
    this.parameters = parameters;
  }

  /** The latest version of the named model, with no parameters. */
  public static ModelRef of(String name) {
    requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("name: empty (expected: a model name)");
    }
    return new ModelRef(name, "", Map.of());
  }

  /** The same model at a given version; empty means the latest. */
  public ModelRef withVersion(String version) {
    return new ModelRef(name, requireNonNull(version, "version"), parameters);
  }

  /** The same model with one more request parameter (replacing one of the same key). */
  public ModelRef withParameter(String key, String value) {
    Map<String, String> copy = new LinkedHashMap<>(parameters);
    copy.put(requireNonNull(key, "key"), requireNonNull(value, "value"));
    return new ModelRef(name, version, Map.copyOf(copy));
  }

  /** The model's name. */
  public String name() {
    return name;
  }

  /** The requested version; empty for the latest. */
  public String version() {
    return version;
  }

  /** The request parameters (unmodifiable). */
  public Map<String, String> parameters() {
    return parameters;
  }

  /** The wire form of the name and version; the parameters travel beside it in each request. */
  ModelSpec toSpec() {
    // Built once: a reference is immutable, and callers pass the same one call after call.
    ModelSpec built = spec;
    if (built == null) {
      built = ModelSpec.newBuilder().setName(name).setVersion(version).build();
      spec = built;
    }
    return built;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof ModelRef)) {
      return false;
    }
    ModelRef other = (ModelRef) o;
    return name.equals(other.name)
        && version.equals(other.version)
        && parameters.equals(other.parameters);
  }

  @Override
  public int hashCode() {
    return (name.hashCode() * 31 + version.hashCode()) * 31 + parameters.hashCode();
  }

  @Override
  public String toString() {
    return version.isEmpty() ? name : name + ":" + version;
  }
}
