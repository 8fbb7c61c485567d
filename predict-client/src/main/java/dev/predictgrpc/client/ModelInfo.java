/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import java.util.List;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * What a server says about one of its models. Immutable and thread-safe.
 *
 * <p>From {@link PredictClient#listModels()}: the name, every hosted version and the description;
 * schemas are null. From {@link PredictClient#modelInfo}: one resolved version, with the schemas
 * the model declares (null where it declares none).
 *
 * @since 0.1
 */
public final class ModelInfo {
  private final String name;
  private final List<String> versions;
  private final String description;
  private final @Nullable Schema inputSchema;
  private final @Nullable Schema outputSchema;

  ModelInfo(
      String name,
      List<String> versions,
      String description,
      @Nullable Schema inputSchema,
      @Nullable Schema outputSchema) {
    this.name = name;
    this.versions = List.copyOf(versions);
    this.description = description;
    this.inputSchema = inputSchema;
    this.outputSchema = outputSchema;
  }

  /** The model's name. */
  public String name() {
    return name;
  }

  /** The hosted versions, oldest first (one version for {@link PredictClient#modelInfo}). */
  public List<String> versions() {
    return versions;
  }

  /** The newest version listed. */
  public String latestVersion() {
    return versions.get(versions.size() - 1);
  }

  /** The model's one-line description; may be empty. */
  public String description() {
    return description;
  }

  /** The input schema the model declares, or null. */
  public @Nullable Schema inputSchema() {
    return inputSchema;
  }

  /** The output schema the model declares, or null. */
  public @Nullable Schema outputSchema() {
    return outputSchema;
  }

  @Override
  public String toString() {
    return name + " " + versions + (description.isEmpty() ? "" : ": " + description);
  }
}
