/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import java.io.IOException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.jspecify.annotations.Nullable;

/**
 * An {@link ArrowReader} whose batches come from another root: each is moved (its buffers shared,
 * not copied) into this reader's root, so the source may reuse or replace its root object at the
 * next batch. What Arrow Dataset's writer and the client take as input. Not thread-safe.
 */
abstract class MovingReader extends ArrowReader {
  MovingReader(BufferAllocator allocator) {
    super(allocator);
  }

  /** The next source batch, or null at the end. Borrowed until the next call. */
  abstract @Nullable VectorSchemaRoot nextSource() throws IOException;

  @Override
  public boolean loadNextBatch() throws IOException {
    ensureInitialized();
    VectorSchemaRoot source = nextSource();
    if (source == null) {
      return false;
    }
    try (ArrowRecordBatch batch = new VectorUnloader(source).getRecordBatch()) {
      new VectorLoader(getVectorSchemaRoot()).load(batch);
    }
    return true;
  }

  @Override
  public long bytesRead() {
    return 0;
  }

  @Override
  protected void loadRecordBatch(ArrowRecordBatch batch) {
    throw new UnsupportedOperationException();
  }

  @Override
  protected void loadDictionary(ArrowDictionaryBatch dictionaryBatch) {
    throw new UnsupportedOperationException();
  }
}
