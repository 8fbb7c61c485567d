/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import dev.predictgrpc.client.PredictionStream;
import java.io.IOException;
import java.util.List;
import java.util.function.Supplier;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * A prediction stream seen as an {@link org.apache.arrow.vector.ipc.ArrowReader}, so that Arrow
 * Dataset's writer pulls result batches one at a time as they arrive: nothing is collected.
 *
 * <p>A failure of the stream ends this reader as if the results were complete, and is kept for the
 * caller to throw (with its type and status intact) instead of placing the file (see {@link
 * MovingReader#fail}).
 *
 * <p>The stream is borrowed. Moving each result batch matters here: the stream's root object can
 * change when the stream resumes on another replica.
 */
final class ResultsReader extends MovingReader {
  private final PredictionStream results;
  private final Supplier<@Nullable Schema> fallbackSchema;
  private boolean peeked;
  private long rows;

  /** {@code fallbackSchema} is asked only if the stream has no batch. */
  ResultsReader(
      PredictionStream results, BufferAllocator allocator, Supplier<@Nullable Schema> fallbackSchema) {
    super(allocator);
    this.results = results;
    this.fallbackSchema = fallbackSchema;
  }

  @Override
  protected Schema readSchema() throws IOException {
    // The output schema is that of the first result: wait for it (the writer asks at once).
    peeked = advance();
    if (peeked) {
      return results.root().getSchema();
    }
    throwIfFailed(); // Nothing has been handed to the writer yet.
    // No batch: the caller writes a file of this schema and no rows (or fails if it has no column).
    Schema schema = fallbackSchema.get();
    return schema == null ? new Schema(List.of()) : schema;
  }

  @Override
  @Nullable VectorSchemaRoot nextSource() {
    boolean has = peeked || advance();
    peeked = false;
    if (!has) {
      return null;
    }
    rows += results.root().getRowCount();
    return results.root();
  }

  private boolean advance() {
    if (failed()) {
      return false;
    }
    try {
      return results.next();
    } catch (RuntimeException e) {
      fail(e);
      return false;
    }
  }

  /** Rows handed to the writer so far. */
  long rows() {
    return rows;
  }

  @Override
  protected void closeReadSource() {
    // The stream is borrowed.
  }
}
