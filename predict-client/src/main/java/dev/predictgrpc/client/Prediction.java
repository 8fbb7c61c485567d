/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * The answer to one unary prediction: the output batch and the model version that produced it.
 *
 * <pre>{@code
 * try (Prediction p = client.predict("iris", input, PredictOptions.defaults())) {
 *   VectorSchemaRoot out = p.root();           // valid until p is closed
 *   log.info("iris:" + p.modelVersion() + " scored " + out.getRowCount() + " rows");
 * }
 * }</pre>
 *
 * <p>Ownership of a {@code Prediction} passes to the caller, who must close it; closing it closes
 * its root unless {@link #takeRoot()} handed the root over first. Close it before the client. Not
 * thread-safe.
 *
 * @since 0.1
 */
public final class Prediction implements AutoCloseable {
  private final String modelName;
  private final String modelVersion;
  private @Nullable VectorSchemaRoot root;

  Prediction(String modelName, String modelVersion, VectorSchemaRoot root) {
    this.modelName = modelName;
    this.modelVersion = modelVersion;
    this.root = root;
  }

  /** The name of the model that answered. */
  public String modelName() {
    return modelName;
  }

  /**
   * The version that answered: the one asked for, or, when the call named none, the latest the
   * server hosted at that moment.
   */
  public String modelVersion() {
    return modelVersion;
  }

  /**
   * The output batch: one row per input row, in order. Borrowed: valid until {@link #close()}; to
   * keep it longer, use {@link #takeRoot()}.
   *
   * @throws IllegalStateException if the root was taken or the prediction closed
   */
  public VectorSchemaRoot root() {
    if (root == null) {
      throw new IllegalStateException("the root was taken or the prediction closed");
    }
    return root;
  }

  /**
   * Hands the output batch over. Ownership of the returned root passes to the caller, who must
   * close it; closing this prediction then does nothing.
   *
   * @throws IllegalStateException if the root was taken or the prediction closed
   */
  public VectorSchemaRoot takeRoot() {
    VectorSchemaRoot taken = root();
    root = null;
    return taken;
  }

  /** Closes the output batch unless it was taken. Idempotent. */
  @Override
  public void close() {
    if (root != null) {
      root.close();
      root = null;
    }
  }

  @Override
  public String toString() {
    return "Prediction{" + modelName + ":" + modelVersion
        + (root == null ? ", closed" : ", rows=" + root.getRowCount()) + "}";
  }
}
