/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import java.io.IOException;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.dataset.file.FileSystemDatasetFactory;
import org.apache.arrow.dataset.jni.NativeMemoryPool;
import org.apache.arrow.dataset.scanner.ScanOptions;
import org.apache.arrow.dataset.scanner.Scanner;
import org.apache.arrow.dataset.source.Dataset;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.util.AutoCloseables;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * An {@link ArrowReader} over Arrow Dataset's Parquet scanner that also owns the dataset and its
 * factory, so closing the reader releases every native object. Not thread-safe.
 */
final class ParquetReader extends MovingReader {
  private final FileSystemDatasetFactory factory;
  private final Dataset dataset;
  private final Scanner scanner;
  private final ArrowReader batches;

  ParquetReader(String uri, BufferAllocator allocator, int batchRows) {
    super(allocator);
    FileSystemDatasetFactory f =
        new FileSystemDatasetFactory(allocator, NativeMemoryPool.getDefault(), FileFormat.PARQUET, uri);
    Dataset d = null;
    Scanner s = null;
    try {
      d = f.finish();
      s = d.newScan(new ScanOptions(batchRows));
      this.batches = s.scanBatches();
    } catch (RuntimeException e) {
      closeQuietly(e, s, d, f);
      throw e;
    }
    this.factory = f;
    this.dataset = d;
    this.scanner = s;
  }

  @Override
  @Nullable VectorSchemaRoot nextSource() throws IOException {
    return batches.loadNextBatch() ? batches.getVectorSchemaRoot() : null;
  }

  @Override
  protected void closeReadSource() throws IOException {
    try {
      AutoCloseables.close(batches, scanner, dataset, factory);
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e);
    }
  }

  @Override
  protected Schema readSchema() {
    return scanner.schema();
  }

  private static void closeQuietly(Exception failure, AutoCloseable... resources) {
    try {
      AutoCloseables.close(resources);
    } catch (Exception e) {
      failure.addSuppressed(e);
    }
  }
}
