/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import dev.predictgrpc.client.PredictionStream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * A prediction stream seen as an {@link org.apache.arrow.vector.ipc.ArrowReader}, so that Arrow
 * Dataset's writer pulls result batches one at a time as they arrive: nothing is collected.
 *
 * <p>A failure of the stream ends this reader as if the results were complete, and is kept for the
 * caller to throw (with its type and status intact) instead of placing the file. Passing it to
 * the writer as an error would be simpler, but Arrow C++ (arrow-dataset 18.3) then never releases
 * the result batches it had taken ahead, which are Java memory: measured as a leak in
 * {@code ParquetFilesTest}.
 *
 * <p>The stream is borrowed. Moving each result batch matters here: the stream's root object can
 * change when the stream resumes on another replica.
 */
final class ResultsReader extends MovingReader {
  private final PredictionStream results;
  private final @Nullable Schema fallbackSchema;
  private boolean peeked;
  private long rows;
  private volatile @Nullable RuntimeException failure;

  ResultsReader(PredictionStream results, BufferAllocator allocator, @Nullable Schema fallbackSchema) {
    super(allocator);
    this.results = results;
    this.fallbackSchema = fallbackSchema;
  }

  @Override
  protected Schema readSchema() {
    // The output schema is that of the first result: wait for it (the writer asks at once).
    peeked = advance();
    if (peeked) {
      return results.root().getSchema();
    }
    RuntimeException failed = failure;
    if (failed != null) {
      throw failed; // Nothing has been handed to the writer yet.
    }
    if (fallbackSchema == null) {
      throw new IllegalStateException("the model answered no batch, so there is no schema to write");
    }
    return fallbackSchema;
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
    if (failure != null) {
      return false;
    }
    try {
      return results.next();
    } catch (RuntimeException e) {
      failure = e;
      return false;
    }
  }

  /** The stream's failure, if reading it failed. */
  @Nullable RuntimeException failure() {
    return failure;
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
