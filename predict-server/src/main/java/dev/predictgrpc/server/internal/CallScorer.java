/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.ChunkPool;
import dev.predictgrpc.arrow.ChunkSink;
import dev.predictgrpc.arrow.PooledChunkSink;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import io.grpc.Status;
import java.util.List;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Scores the batches of one call: checks each input against the model's schema, runs the model,
 * checks what it returned, and encodes the output into chunks. Shared by unary and streaming
 * calls. Not thread-safe: one call's batches are scored one at a time.
 */
final class CallScorer {
  /**
   * Takes a batch's checked output instead of the encoder; see {@link #CallScorer(ServedModel,
   * CallContext, OutputSink)}.
   */
  interface OutputSink {
    /**
     * Uses {@code output}, which the scorer closes after this returns. The callee does not take
     * ownership of {@code output}; it is not retained after this method returns.
     */
    void accept(VectorSchemaRoot output) throws Exception;
  }

  private final ServedModel served;
  private final ModelService model;
  private final CallContext context;
  private final InputSchemaCheck inputCheck;
  private final int maxChunkBytes;
  private final @Nullable ChunkPool pool;
  private final PooledChunkSink sink;
  private final @Nullable OutputSink direct;
  private @Nullable ArrowChunkEncoder encoder;
  private long batches;

  /** A scorer whose output chunks are fresh arrays that {@code sink} may keep. */
  CallScorer(ServedModel served, CallContext context, int maxChunkBytes, ChunkSink sink) {
    this(served, context, maxChunkBytes, null, (chunk, release) -> sink.accept(chunk));
  }

  /**
   * A scorer that encodes nothing: each batch's output, once checked as for every call, goes to
   * {@code direct} (the Open Inference Protocol converts it to tensors).
   */
  CallScorer(ServedModel served, CallContext context, OutputSink direct) {
    this(served, context, 0, null, (chunk, release) -> {}, direct);
  }

  /**
   * A scorer whose big output chunks are arrays lent from {@code pool}, which {@code sink} gives
   * back; see {@link PooledChunkSink}.
   */
  CallScorer(
      ServedModel served,
      CallContext context,
      int maxChunkBytes,
      @Nullable ChunkPool pool,
      PooledChunkSink sink) {
    this(served, context, maxChunkBytes, pool, sink, null);
  }

  private CallScorer(
      ServedModel served,
      CallContext context,
      int maxChunkBytes,
      @Nullable ChunkPool pool,
      PooledChunkSink sink,
      @Nullable OutputSink direct) {
    this.direct = direct;
    this.served = served;
    this.model = served.model;
    this.context = context;
    this.inputCheck =
        new InputSchemaCheck(model.name(), model.inputSchema(), served.lastCheckedInput);
    this.maxChunkBytes = maxChunkBytes;
    this.pool = pool;
    this.sink = sink;
  }

  /**
   * Scores one input batch (one request, in the statistics) and hands its output chunks to the
   * sink before returning. With batching on, the model may score it together with other calls'
   * batches; this call still gets exactly its own rows.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns.
   */
  void score(VectorSchemaRoot input, DictionaryProvider dictionaries) throws Exception {
    if (context.isCancelled()) {
      throw new PredictException(Status.Code.CANCELLED, "the call was cancelled");
    }
    ModelStatsRecorder stats = served.stats;
    stats.requestStarted(input.getRowCount());
    boolean ok = false;
    try {
      VectorSchemaRoot conformed = inputCheck.conform(input);
      context.beginBatch(batches, dictionaries);
      VectorSchemaRoot output = served.predict(context, conformed);
      // An echo model hands back the batch we lent it; that one is not ours to close.
      boolean borrowed = output == input || output == conformed;
      try {
        checkOutput(output, input.getRowCount(), dictionaries);
        if (direct != null) {
          direct.accept(output);
        } else {
          encoder.writeBatch(output);
        }
      } finally {
        if (output != null && !borrowed) {
          output.close();
        }
      }
      ok = true;
    } finally {
      try {
        inputCheck.releaseDecoded();
      } finally {
        stats.requestFinished(ok);
      }
    }
    batches++;
  }

  /**
   * Checks the input's schema against the model's declared one as soon as it is known, before any
   * batch of it is decoded.
   *
   * @throws PredictException INVALID_ARGUMENT naming the column that does not conform
   */
  void checkInputSchema(Schema input, DictionaryProvider dictionaries) {
    try {
      inputCheck.checkSchema(input, dictionaries);
    } catch (RuntimeException e) {
      refused();
      throw e;
    }
  }

  /** Counts a request refused before any batch of it was scored as a failed one, with no rows. */
  void refused() {
    served.stats.requestStarted(0);
    served.stats.requestFinished(false);
  }

  /** Ends the output stream; with no batch scored, it carries the declared output schema. */
  void finish() {
    if (encoder == null) {
      Schema declared = model.outputSchema();
      encoder = newEncoder(declared != null ? declared : new Schema(List.<Field>of()), null);
    }
    encoder.end();
  }

  long batchesScored() {
    return batches;
  }

  private void checkOutput(
      @Nullable VectorSchemaRoot output, int inputRows, DictionaryProvider dictionaries) {
    String label = "model '" + context.label() + "'";
    if (output == null) {
      throw modelFault(label + " returned no batch for batch " + batches);
    }
    if (output.getRowCount() != inputRows) {
      throw modelFault(
          label
              + " returned "
              + output.getRowCount()
              + " rows for batch "
              + batches
              + " of "
              + inputRows
              + " rows");
    }
    Schema declared = model.outputSchema();
    if (declared != null && !sameTypes(declared, output.getSchema())) {
      throw modelFault(
          label + " returned a batch whose schema differs from its declared output schema");
    }
    if (direct != null) {
      return;
    }
    if (encoder == null) {
      // Dictionary-encoded output columns can only be ones passed through from the input (an echo),
      // so the input's dictionaries are the ones to send.
      encoder = newEncoder(output.getSchema(), dictionaries);
    } else if (!encoder.schema().equals(output.getSchema())) {
      throw modelFault(
          label + " returned a schema for batch " + batches + " that differs from batch 0's");
    }
  }

  private ArrowChunkEncoder newEncoder(
      Schema schema, @Nullable DictionaryProvider dictionaries) {
    if (pool == null) {
      return ArrowChunkEncoder.create(
          schema, dictionaries, maxChunkBytes, (chunk) -> sink.accept(chunk, () -> {}));
    }
    return ArrowChunkEncoder.create(schema, dictionaries, maxChunkBytes, pool, sink);
  }

  private static boolean sameTypes(Schema want, Schema got) {
    List<Field> a = want.getFields();
    List<Field> b = got.getFields();
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!a.get(i).getName().equals(b.get(i).getName())
          || !InputSchemaCheck.sameType(a.get(i), b.get(i))) {
        return false;
      }
    }
    return true;
  }

  /** A model that breaks its contract fails the call with INTERNAL, named as its own fault. */
  private static PredictException modelFault(String message) {
    return new PredictException(Status.Code.INTERNAL, message);
  }
}
