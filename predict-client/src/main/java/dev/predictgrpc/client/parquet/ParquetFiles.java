/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.parquet;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.arrow.dataset.file.DatasetFileWriter;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Streams Parquet files through a model and writes the results as Parquet, one record batch at a
 * time, with Arrow Dataset (Arrow C++'s Parquet reader and writer, through JNI).
 *
 * <pre>{@code
 * try (BufferAllocator allocator = new RootAllocator();
 *     PredictClient client = PredictClient.builder("localhost:8980", allocator).build()) {
 *   long rows = ParquetFiles.score(client, ModelRef.of("iris"),
 *       Path.of("features.parquet"), Path.of("scores.parquet"), allocator, 65_536);
 * }
 * }</pre>
 *
 * <p>Memory: neither side ever holds the whole table. The reader decodes a row group at a time
 * and hands out batches of at most {@code batchRows} rows; the writer takes each result batch as
 * it arrives and buffers at most one row group (Arrow's default, 1,048,576 rows) in native memory
 * before writing it. Between them, the client's stream backpressure bounds what is in flight. The
 * writer keeps the order of the batches it is given (Arrow Dataset writes on one thread unless a
 * scan asks for more, and a stream source does not), so output row <i>r</i> answers input row
 * <i>r</i>.
 *
 * <p>Types: whatever Arrow C++ maps to and from Parquet (numbers, strings, binary, booleans,
 * decimals, dates, timestamps including Spark's INT96, lists, structs, maps), nulls included.
 * This class is thread-safe (it has no state); each call uses its own reader and writer.
 *
 * @since 0.1
 */
public final class ParquetFiles {
  private ParquetFiles() {}

  /**
   * Opens a Parquet file, or a directory of them (recursively; names starting with {@code .} or
   * {@code _}, such as Spark's {@code _SUCCESS} and checksums, are skipped), as a reader of
   * batches of at most {@code batchRows} rows, in file order.
   *
   * <p>Ownership of the returned reader passes to the caller, who must close it (that frees its
   * native scanner too). Its root is borrowed until the next {@code loadNextBatch()}.
   *
   * @throws IllegalArgumentException if {@code batchRows <= 0}
   * @throws NoSuchFileException if {@code fileOrDirectory} does not exist
   * @throws RuntimeException from Arrow Dataset if a file is not Parquet or files disagree on the
   *     schema; the message names the file
   */
  public static ArrowReader openReader(Path fileOrDirectory, BufferAllocator allocator, int batchRows)
      throws IOException {
    requireNonNull(allocator, "allocator");
    if (batchRows <= 0) {
      throw new IllegalArgumentException("batchRows: " + batchRows + " (expected: > 0)");
    }
    if (!Files.exists(fileOrDirectory)) {
      throw new NoSuchFileException(fileOrDirectory.toString(), null, "no such Parquet file or directory");
    }
    return new ParquetReader(uri(fileOrDirectory), allocator, batchRows);
  }

  /**
   * Writes every batch of {@code batches} to one Parquet file, batch by batch, replacing {@code
   * file} only once all are written (a failure leaves no file under that name). If {@code
   * batches} has no rows, the file holds none, with its schema.
   *
   * <p>The caller retains ownership of {@code batches}; it is read to the end but not closed.
   *
   * @throws IOException if the file cannot be written, or as {@code batches} throws it
   */
  public static void write(ArrowReader batches, Path file, BufferAllocator allocator)
      throws IOException {
    requireNonNull(batches, "batches");
    try (MovingReader reader =
        new MovingReader(allocator) {
          @Override
          @Nullable VectorSchemaRoot nextSource() throws IOException {
            return batches.loadNextBatch() ? batches.getVectorSchemaRoot() : null;
          }

          @Override
          protected void closeReadSource() {}

          @Override
          protected Schema readSchema() throws IOException {
            return batches.getVectorSchemaRoot().getSchema();
          }
        }) {
      writeMoving(reader, file, allocator);
    }
  }

  /** Writes; if the source of {@code batches} failed, throws its failure instead of placing the file. */
  private static void writeMoving(MovingReader batches, Path file, BufferAllocator allocator)
      throws IOException {
    requireNonNull(allocator, "allocator");
    Path dir = Files.createTempDirectory(parentOf(file), "." + file.getFileName() + ".");
    try {
      try {
        DatasetFileWriter.write(
            allocator, batches, FileFormat.PARQUET, uri(dir), new String[0], 1, "part-{i}.parquet");
      } finally {
        batches.awaitExportReleased(Duration.ofSeconds(5));
      }
      batches.throwIfFailed();
      List<Path> written;
      try (Stream<Path> files = Files.list(dir)) {
        written = files.collect(Collectors.toList());
      }
      if (written.isEmpty()) {
        written = List.of(writeNoRows(batches.getVectorSchemaRoot().getSchema(), dir, file, allocator));
      }
      if (written.size() != 1) {
        throw new IOException("Arrow Dataset wrote " + written.size() + " files for " + file);
      }
      Files.move(written.get(0), file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      deleteRecursively(dir);
    }
  }

  /**
   * Writes a Parquet file of {@code schema} and no rows into {@code dir}. Arrow Dataset writes no
   * file without rows (apache/arrow#37583), so this writes one row and drops it from the footer.
   */
  private static Path writeNoRows(Schema schema, Path dir, Path file, BufferAllocator allocator)
      throws IOException {
    if (schema.getFields().isEmpty()) {
      throw new IOException(
          "no rows and no columns to write to " + file + " (with no batch, give the schema to write)");
    }
    Path empty = dir.resolve("part-0.parquet");
    try (VectorSchemaRoot row = VectorSchemaRoot.create(schema, allocator)) {
      row.allocateNew();
      for (FieldVector vector : row.getFieldVectors()) {
        setValid(vector);
      }
      row.setRowCount(1);
      write(List.of(row).iterator(), schema, empty, allocator);
    }
    EmptyParquetFile.dropRows(empty);
    return empty;
  }

  /** Makes row 0 of {@code vector} and its children valid (zeros, empty strings and lists). */
  private static void setValid(ValueVector vector) {
    ArrowBuf validity;
    try {
      validity = vector.getValidityBuffer();
    } catch (UnsupportedOperationException e) {
      validity = null; // Types without a validity buffer: null, non-nullable struct, union.
    }
    if (validity != null && validity.capacity() > 0) {
      BitVectorHelper.setBit(validity, 0);
    }
    if (vector instanceof FieldVector) {
      for (FieldVector child : ((FieldVector) vector).getChildrenFromFields()) {
        setValid(child);
      }
    }
  }

  /**
   * Writes the batches of {@code batches}, all of schema {@code schema}, to one Parquet file as
   * the iterator yields them (see {@link #write(ArrowReader, Path, BufferAllocator)}).
   *
   * <p>Each batch is borrowed until the iterator advances (it may be the same root, refilled);
   * they are never closed here.
   *
   * @throws IOException if the file cannot be written
   * @throws RuntimeException as {@code batches} throws it
   */
  public static void write(
      Iterator<? extends VectorSchemaRoot> batches, Schema schema, Path file, BufferAllocator allocator)
      throws IOException {
    requireNonNull(batches, "batches");
    requireNonNull(schema, "schema");
    try (MovingReader reader =
        new MovingReader(allocator) {
          @Override
          @Nullable VectorSchemaRoot nextSource() {
            return batches.hasNext() ? batches.next() : null;
          }

          @Override
          protected void closeReadSource() {}

          @Override
          protected Schema readSchema() {
            return schema;
          }
        }) {
      writeMoving(reader, file, allocator);
    }
  }

  /**
   * Writes the result batches of {@code results} to one Parquet file as they arrive (see {@link
   * #write(ArrowReader, Path, BufferAllocator)}); returns the number of rows written.
   *
   * <p>{@code results} is borrowed: it is read to the end but not closed. If the model answers no
   * batch at all, the file holds no rows and the schema {@code emptySchema}.
   *
   * @throws dev.predictgrpc.common.PredictException if the stream fails, as {@link
   *     PredictionStream#next()} throws it
   * @throws IOException if the file cannot be written, or the model answers no batch and {@code
   *     emptySchema} is null
   */
  public static long write(
      PredictionStream results, Path file, BufferAllocator allocator, @Nullable Schema emptySchema)
      throws IOException {
    return write(results, file, allocator, () -> emptySchema);
  }

  private static long write(
      PredictionStream results,
      Path file,
      BufferAllocator allocator,
      Supplier<@Nullable Schema> emptySchema)
      throws IOException {
    requireNonNull(results, "results");
    try (ResultsReader reader = new ResultsReader(results, allocator, emptySchema)) {
      writeMoving(reader, file, allocator);
      return reader.rows();
    }
  }

  /**
   * Scores a Parquet file (or directory) on {@code model} and writes the results to the Parquet
   * file {@code output}, one output row per input row, in order; returns the number of rows.
   * Input batches hold at most {@code batchRows} rows. If the input has no rows, the output has
   * none either, and the model's declared output schema.
   *
   * @throws dev.predictgrpc.common.PredictException if the model or the server fails
   * @throws IOException if a file cannot be read or written, or the input has no rows and the
   *     model declares no output schema
   */
  public static long score(
      PredictClient client,
      ModelRef model,
      Path input,
      Path output,
      BufferAllocator allocator,
      int batchRows)
      throws IOException {
    requireNonNull(client, "client");
    try (ArrowReader reader = openReader(input, allocator, batchRows);
        PredictionStream results = client.predictStream(model, reader)) {
      return write(results, output, allocator, () -> client.modelInfo(model).outputSchema());
    }
  }

  private static String uri(Path path) {
    return path.toAbsolutePath().normalize().toUri().toString();
  }

  private static Path parentOf(Path file) {
    Path parent = file.toAbsolutePath().getParent();
    return parent == null ? file.toAbsolutePath() : parent;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted((a, b) -> b.getNameCount() - a.getNameCount()).collect(Collectors.toList())) {
        Files.deleteIfExists(p);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
