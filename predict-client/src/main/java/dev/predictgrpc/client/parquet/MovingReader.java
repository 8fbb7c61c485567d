/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
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
  private final List<ArrowBuf> loaded = new ArrayList<>();
  private final List<Integer> loadedRefs = new ArrayList<>();

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
    loaded.clear();
    loadedRefs.clear();
    for (FieldVector vector : getVectorSchemaRoot().getFieldVectors()) {
      for (ArrowBuf buffer : vector.getFieldBuffers()) {
        loaded.add(buffer);
        loadedRefs.add(buffer.refCnt());
      }
    }
    return true;
  }

  /**
   * Waits, at most {@code timeout}, until whoever this reader's last batch was exported to (Arrow
   * C++ through the C Data interface) has released it. Arrow Dataset's writer drops the last batch
   * it pulled a moment after its write call returns, on a thread of its own (measured: the batch
   * still held when the caller closed its allocator right after, a leak report); this lets the
   * caller close its allocator safely afterwards.
   */
  void awaitExportReleased(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      for (int i = 0; i < loaded.size(); i++) {
        while (loaded.get(i).refCnt() > loadedRefs.get(i) && System.nanoTime() < deadline) {
          Thread.sleep(1);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
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
