/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import java.util.Locale;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * The base class for a model served by predict-grpc: extend it and implement {@link #predict}.
 *
 * <p>Everything else has a default. Override {@link #name()} and {@link #version()} to name the
 * model (defaults: the class name in kebab case without a {@code Model} suffix, and {@code "1"}),
 * {@link #inputSchema()} to have the server reject mismatched input before your code runs, {@link
 * #outputSchema()} to publish what you return, and {@link #start()}/{@link #close()} to load and
 * release resources.
 *
 * <pre>{@code
 * final class RowSumModel extends ModelService {
 *   public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
 *     Float4Vector a = Columns.float32(input, "a");   // INVALID_ARGUMENT if missing or not float32
 *     Float4Vector b = Columns.float32(input, "b");
 *     try (OutputBuilder out = ctx.output(input.getRowCount())) {
 *       Float4Vector sum = out.float32("sum");
 *       for (int i = 0; i < out.rows(); i++) {
 *         if (!a.isNull(i) && !b.isNull(i)) {         // rows left unset stay null
 *           sum.set(i, a.get(i) + b.get(i));
 *         }
 *       }
 *       return out.build();
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p><b>Threading.</b> One instance serves concurrent calls; implementations must be thread-safe.
 * Calls of one stream are made one at a time, in batch order, but possibly on different threads.
 * A model hosted with {@link Batching} receives merged batches one at a time from a dispatcher
 * thread of its own, and the requests that are not merged on the callers' threads.
 *
 * <p><b>Arrow ownership.</b> {@code input} is borrowed for the duration of {@code predict}: do not
 * close it or keep it. Allocate the result from {@link PredictContext#allocator()} (which {@link
 * PredictContext#output(int)} does); ownership of the returned root passes to the library, which
 * closes it once it is sent. A model may return
 * {@code input} itself (an echo), which the library then does not close.
 *
 * <p><b>Errors.</b> Throw {@link dev.predictgrpc.common.PredictException} to answer with a
 * chosen status and message, or {@link IllegalArgumentException} for INVALID_ARGUMENT. Any other
 * exception becomes INTERNAL with a generic message naming the model; the cause is logged on the
 * server and never sent to the client.
 *
 * @since 0.1
 */
public abstract class ModelService {

  private volatile @Nullable String defaultName;

  /** Creates a model. Heavy initialisation belongs in {@link #start()}. */
  protected ModelService() {}

  /**
   * Scores one batch.
   *
   * @param ctx the call: its allocator, parameters, deadline and cancellation
   * @param input the batch to score. Borrowed: valid only until this method returns. If {@link
   *     #inputSchema()} is declared, its columns are exactly the declared ones, in declared order.
   * @return one output row per input row, in the same order. Ownership of the returned root passes
   *     to the library, which closes it after sending.
   * @throws Exception on failure; see the class documentation for how it is reported
   */
  public abstract VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input)
      throws Exception;

  /**
   * The name clients use to reach this model. Default: the class's simple name in kebab case,
   * without a trailing {@code Model} ({@code IrisClassifierModel} is {@code iris-classifier}).
   */
  public String name() {
    // The server asks for the name on every call; derive it once.
    String name = defaultName;
    if (name == null) {
      name = defaultName();
      defaultName = name;
    }
    return name;
  }

  private String defaultName() {
    String simple = getClass().getSimpleName();
    if (simple.endsWith("Model") && simple.length() > "Model".length()) {
      simple = simple.substring(0, simple.length() - "Model".length());
    }
    return simple.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
  }

  /**
   * This model's version. When a server hosts several versions of one name, a request that names
   * no version gets the greatest one (numerically if all are integers). Default {@code "1"}.
   */
  public String version() {
    return "1";
  }

  /** A one-line description for {@code ListModels}. Default: empty. */
  public String description() {
    return "";
  }

  /**
   * The input this model accepts, or null to accept any input unchecked (the default).
   *
   * <p>When declared, the server rejects with INVALID_ARGUMENT any batch that lacks a column, has
   * an extra one, has a column of another type, or has nulls in a non-nullable column. Columns
   * are matched by name and handed to {@link #predict} in the declared order.
   */
  public @Nullable Schema inputSchema() {
    return null;
  }

  /**
   * The output this model returns, or null if not declared (the default). When declared, an
   * output batch with another schema fails the call with INTERNAL, as the model's fault.
   */
  public @Nullable Schema outputSchema() {
    return null;
  }

  /**
   * Called once before the model serves its first call: load weights, open sessions here.
   *
   * @throws Exception if the model cannot serve; the server then does not start
   */
  public void start() throws Exception {}

  /**
   * Called once after the model has served its last call; release what {@link #start()} took.
   * Exceptions are logged and otherwise ignored.
   */
  public void close() {}

  @Override
  public String toString() {
    return name() + ":" + version();
  }
}
