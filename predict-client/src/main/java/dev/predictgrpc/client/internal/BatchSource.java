/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import java.io.IOException;
import java.util.Iterator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.jspecify.annotations.Nullable;

/**
 * The input of a stream the client uploads by itself: batches pulled one at a time when the
 * transport can take more. Called from one thread at a time.
 */
public interface BatchSource {
  /**
   * The next batch, or null when there are no more. Borrowed: valid until the next call.
   *
   * @throws Exception if the input cannot be read; the call is then cancelled with it
   */
  @Nullable VectorSchemaRoot next() throws Exception;

  /** Dictionaries for dictionary-encoded columns, or null if there are none. */
  @Nullable DictionaryProvider dictionaries();

  /** A source reading batches from an {@link ArrowReader}, which it borrows. */
  static BatchSource of(ArrowReader reader) {
    return new BatchSource() {
      @Override
      public @Nullable VectorSchemaRoot next() throws IOException {
        return reader.loadNextBatch() ? reader.getVectorSchemaRoot() : null;
      }

      @Override
      public DictionaryProvider dictionaries() {
        return reader;
      }
    };
  }

  /** A source taking batches from an iterator; each is borrowed until the iterator advances. */
  static BatchSource of(Iterator<? extends VectorSchemaRoot> batches) {
    return new BatchSource() {
      @Override
      public @Nullable VectorSchemaRoot next() {
        return batches.hasNext() ? batches.next() : null;
      }

      @Override
      public @Nullable DictionaryProvider dictionaries() {
        return null;
      }
    };
  }
}
