/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.score;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.jspecify.annotations.Nullable;

/** Writes result batches to an Arrow IPC file or a CSV file (Parquet: see {@code ParquetFiles}). */
abstract class ResultWriter implements AutoCloseable {
  /** Writes one batch. The caller retains ownership of {@code batch}. */
  abstract void write(VectorSchemaRoot batch) throws IOException;

  @Override
  public abstract void close() throws IOException;

  /** Opens a writer of {@code format} ({@code arrow} or {@code csv}). */
  static ResultWriter open(Path path, String format, BufferAllocator allocator) throws IOException {
    if (format.equals("csv")) {
      return new Csv(path);
    }
    if (format.equals("arrow")) {
      return new Arrow(path, allocator);
    }
    throw new IOException("no result writer for format " + format + ": " + path);
  }

  /**
   * An Arrow IPC file. Each result batch is moved (not copied) into the writer's own root, because
   * the stream's root object can change when the stream resumes on another replica.
   */
  private static final class Arrow extends ResultWriter {
    private final FileChannel channel;
    private final BufferAllocator allocator;
    private @Nullable VectorSchemaRoot own;
    private @Nullable ArrowFileWriter writer;

    Arrow(Path path, BufferAllocator allocator) throws IOException {
      this.allocator = allocator;
      channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }

    @Override
    void write(VectorSchemaRoot batch) throws IOException {
      if (writer == null) {
        own = VectorSchemaRoot.create(batch.getSchema(), allocator);
        writer = new ArrowFileWriter(own, null, channel);
        writer.start();
      }
      try (ArrowRecordBatch data = new VectorUnloader(batch).getRecordBatch()) {
        new VectorLoader(own).load(data);
      }
      writer.writeBatch();
    }

    @Override
    public void close() throws IOException {
      if (writer != null) {
        writer.end();
        writer.close();
        own.close();
      }
      channel.close();
    }
  }

  /** A CSV file with a header line; nulls are empty cells. */
  private static final class Csv extends ResultWriter {
    private final BufferedWriter out;
    private boolean headerWritten;

    Csv(Path path) throws IOException {
      out = Files.newBufferedWriter(path, StandardCharsets.UTF_8);
    }

    @Override
    void write(VectorSchemaRoot batch) throws IOException {
      List<FieldVector> columns = batch.getFieldVectors();
      if (!headerWritten) {
        for (int c = 0; c < columns.size(); c++) {
          out.write((c == 0 ? "" : ",") + columns.get(c).getName());
        }
        out.newLine();
        headerWritten = true;
      }
      StringBuilder line = new StringBuilder();
      for (int r = 0; r < batch.getRowCount(); r++) {
        line.setLength(0);
        for (int c = 0; c < columns.size(); c++) {
          Object value = columns.get(c).getObject(r);
          line.append(c == 0 ? "" : ",").append(value == null ? "" : value.toString());
        }
        out.write(line.toString());
        out.newLine();
      }
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}
