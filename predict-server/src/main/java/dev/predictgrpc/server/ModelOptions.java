/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * How a model version is hosted: with or without dynamic batching, and with an optional warm-up
 * batch that it must score before it is published. Immutable once built; the warm-up batch is
 * borrowed, see {@link Builder#warmUp}.
 *
 * <p>Model-specific warm-up (loading weights, compiling kernels) belongs in {@link
 * ModelService#start()}, which always runs before a version is published.
 *
 * @since 0.2
 */
public final class ModelOptions {
  private static final ModelOptions DEFAULTS = builder().build();

  private final @Nullable Batching batching;
  private final @Nullable VectorSchemaRoot warmUp;

  private ModelOptions(Builder builder) {
    this.batching = builder.batching;
    this.warmUp = builder.warmUp;
  }

  /** No batching, no warm-up batch. */
  public static ModelOptions defaults() {
    return DEFAULTS;
  }

  /** Starts from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** The batching settings, or null for none. */
  public @Nullable Batching batching() {
    return batching;
  }

  /** The warm-up batch, or null for none. Borrowed from whoever built these options. */
  public @Nullable VectorSchemaRoot warmUp() {
    return warmUp;
  }

  /**
   * Builds {@link ModelOptions}. Not thread-safe.
   *
   * @since 0.2
   */
  public static final class Builder {
    private @Nullable Batching batching;
    private @Nullable VectorSchemaRoot warmUp;

    private Builder() {}

    /** Merges concurrent requests as {@code batching} says; see {@link Batching}. */
    public Builder batching(Batching batching) {
      this.batching = requireNonNull(batching, "batching");
      return this;
    }

    /**
     * A batch the version must score, through its own {@code predict} and schema checks, before it
     * is published; if that fails, the version is not published. The caller retains ownership of
     * {@code sample}; it must stay open until the {@code add} or {@code replace} that uses these
     * options returns, and is not retained after that.
     */
    public Builder warmUp(VectorSchemaRoot sample) {
      this.warmUp = requireNonNull(sample, "sample");
      return this;
    }

    /** Creates the options. */
    public ModelOptions build() {
      return new ModelOptions(this);
    }
  }
}
