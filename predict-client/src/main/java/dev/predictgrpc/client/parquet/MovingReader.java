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
 *
 * <p>A source that fails ends this reader cleanly, and the failure is kept for the caller to throw
 * (see {@link #fail}).
 */
abstract class MovingReader extends ArrowReader {
  private final List<ArrowBuf> loaded = new ArrayList<>();
  private final List<Integer> loadedRefs = new ArrayList<>();
  private volatile @Nullable Exception failure;

  MovingReader(BufferAllocator allocator) {
    super(allocator);
  }

  /**
   * The next source batch, or null at the end. Borrowed until the next call. What it throws is
   * kept for {@link #throwIfFailed()}.
   */
  abstract @Nullable VectorSchemaRoot nextSource() throws IOException;

  @Override
  public boolean loadNextBatch() throws IOException {
    ensureInitialized();
    VectorSchemaRoot source;
    try {
      source = failure == null ? nextSource() : null;
    } catch (IOException | RuntimeException e) {
      fail(e);
      return false;
    }
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
   * Ends this reader as if the source were complete, keeping {@code e} for {@link
   * #throwIfFailed()}. Passing it to the writer as an error would be simpler, but Arrow C++
   * (arrow-dataset 18.3) then never releases the batches it had taken ahead, which are Java
   * memory: measured as a leak in {@code ParquetFilesTest}.
   */
  final void fail(Exception e) {
    failure = e;
  }

  /** Whether the source failed. */
  final boolean failed() {
    return failure != null;
  }

  /** Throws the source's failure, as it was thrown, if reading the source failed. */
  final void throwIfFailed() throws IOException {
    Exception failed = failure;
    if (failed instanceof IOException) {
      throw (IOException) failed;
    }
    if (failed != null) {
      throw (RuntimeException) failed;
    }
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
