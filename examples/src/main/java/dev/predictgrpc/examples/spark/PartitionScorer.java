/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.spark;

import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictCall;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.arrow.ArrowWriter;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.jspecify.annotations.Nullable;
import scala.Function1;

/**
 * Scores one partition: its rows go out as Arrow batches on one {@link PredictCall}, and each
 * input row comes back with the model's result columns appended, in input order.
 *
 * <p>Threads: Spark's task thread reads the partition (Spark's readers need the task's context)
 * and turns rows into Arrow batches with Spark's own {@link ArrowWriter}; it also reads the results
 * (Spark pulls this iterator on it). Writing must happen on another thread, because the server
 * answers batch <i>i</i> before reading much past it; a small upload thread per partition takes the
 * ready batches from a queue and {@link PredictCall#write}s them. The task thread keeps at most
 * {@code inFlightBatches} batches between converted and answered, so the rows held for appending
 * (and the Arrow batches queued) stay bounded whatever the partition's size. If a replica dies the
 * client resumes the stream on another one and re-sends the unanswered batches; results still
 * arrive exactly once, in order.
 *
 * <p>Arrow ownership: the batches are allocated from a child allocator of this partition; each is
 * owned by the queue until the upload thread has written it, which then closes it. Result columns
 * are borrowed from the stream and converted to rows before the next result is read. {@link
 * #close()} (called on task completion, success or failure) cancels the call if it is still open,
 * frees every batch and closes the allocator (unless the upload thread is still stuck in a write
 * 30 s later: then the allocator is left open, so that the task's own error is the one reported).
 * Not thread-safe: one task thread.
 */
final class PartitionScorer implements Iterator<Row>, AutoCloseable {
  private static final Logger logger = Logger.getLogger(PartitionScorer.class.getName());

  private static final Object END = new Object();

  private final Iterator<Row> input;
  private final int[] featureColumns;
  private final Schema featureArrowSchema;
  private final Function1<Object, Object> toCatalyst;
  private final Function1<Object, Object> toScala;
  private final StructType resultSchema;
  private final int batchRows;
  private final int inFlightBatches;
  private final BufferAllocator allocator;
  private final PredictCall call;
  private final PredictionStream results;
  private final LinkedBlockingQueue<Object> uploads = new LinkedBlockingQueue<>();
  private final ArrayDeque<List<Row>> unanswered = new ArrayDeque<>();
  private final Thread uploader;
  private volatile @Nullable RuntimeException uploadFailure;

  private boolean inputDone;
  private @Nullable List<Row> currentRows;
  private @Nullable ColumnarBatch currentResults;
  private int position;
  private boolean finished;
  private boolean closed;

  PartitionScorer(
      Iterator<Row> input,
      PredictClient client,
      BufferAllocator parentAllocator,
      ModelRef model,
      int[] featureColumns,
      StructType featureSchema,
      Schema featureArrowSchema,
      StructType resultSchema,
      int batchRows,
      int inFlightBatches,
      String name) {
    this.input = input;
    this.featureColumns = featureColumns;
    this.featureArrowSchema = featureArrowSchema;
    this.toCatalyst = CatalystTypeConverters.createToCatalystConverter(featureSchema);
    this.toScala = CatalystTypeConverters.createToScalaConverter(resultSchema);
    this.resultSchema = resultSchema;
    this.batchRows = batchRows;
    this.inFlightBatches = inFlightBatches;
    this.allocator = parentAllocator.newChildAllocator(name, 0, Long.MAX_VALUE);
    PredictCall opened;
    try {
      opened = client.openStream(model);
    } catch (RuntimeException e) {
      allocator.close();
      throw e;
    }
    this.call = opened;
    this.results = call.results();
    this.uploader = new Thread(this::upload, name + "-upload");
    uploader.setDaemon(true);
    uploader.start();
  }

  @Override
  public boolean hasNext() {
    while (currentRows == null || position == currentRows.size()) {
      if (finished) {
        return false;
      }
      nextResult();
    }
    return true;
  }

  @Override
  public Row next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Row in = currentRows.get(position);
    Row result = (Row) toScala.apply(currentResults.getRow(position));
    position++;
    Object[] values = new Object[in.length() + result.length()];
    for (int i = 0; i < in.length(); i++) {
      values[i] = in.get(i);
    }
    for (int i = 0; i < result.length(); i++) {
      values[in.length() + i] = result.get(i);
    }
    return RowFactory.create(values);
  }

  /** Converts input up to the in-flight bound, then waits for the next result batch. */
  private void nextResult() {
    currentRows = null;
    currentResults = null;
    position = 0;
    while (!inputDone && unanswered.size() < inFlightBatches) {
      convertBatch();
    }
    boolean has = nextFromStream();
    if (!has) {
      if (!unanswered.isEmpty()) {
        throw new PredictException(
            Status.Code.INTERNAL,
            "the stream ended with " + unanswered.size() + " input batch(es) unanswered");
      }
      finished = true;
      return;
    }
    List<Row> rows = unanswered.poll();
    VectorSchemaRoot root = results.root();
    if (rows == null || root.getRowCount() != rows.size()) {
      throw new PredictException(
          Status.Code.INTERNAL,
          "result batch has " + root.getRowCount() + " rows for an input batch of "
              + (rows == null ? 0 : rows.size()));
    }
    ColumnVector[] columns = new ColumnVector[resultSchema.fields().length];
    for (int c = 0; c < columns.length; c++) {
      String name = resultSchema.fields()[c].name();
      FieldVector vector = root.getVector(name);
      if (vector == null) {
        throw new PredictException(
            Status.Code.INTERNAL, "the model's result has no column '" + name + "'");
      }
      columns[c] = new ArrowColumnVector(vector); // Borrowed; the batch is never closed.
    }
    currentResults = new ColumnarBatch(columns, rows.size());
    currentRows = rows;
  }

  private boolean nextFromStream() {
    try {
      return results.next();
    } catch (RuntimeException e) {
      RuntimeException upload = uploadFailure;
      if (upload != null) {
        upload.addSuppressed(e);
        throw upload;
      }
      throw e;
    }
  }

  /** Reads up to batchRows rows of the partition into a new Arrow batch for the upload thread. */
  private void convertBatch() {
    VectorSchemaRoot root = VectorSchemaRoot.create(featureArrowSchema, allocator);
    List<Row> rows = new ArrayList<>();
    try {
      ArrowWriter writer = ArrowWriter.create(root);
      Object[] features = new Object[featureColumns.length];
      while (rows.size() < batchRows && input.hasNext()) {
        Row row = input.next();
        for (int f = 0; f < featureColumns.length; f++) {
          features[f] = row.get(featureColumns[f]);
        }
        writer.write((InternalRow) toCatalyst.apply(RowFactory.create(features)));
        rows.add(row);
      }
      writer.finish();
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
    if (rows.isEmpty()) {
      root.close();
    } else {
      unanswered.add(rows);
      uploads.add(root);
    }
    if (!input.hasNext()) {
      inputDone = true;
      uploads.add(END);
    }
  }

  private void upload() {
    try {
      while (true) {
        Object item = uploads.take();
        if (item == END) {
          call.complete();
          return;
        }
        try (VectorSchemaRoot batch = (VectorSchemaRoot) item) {
          call.write(batch);
        }
      }
    } catch (InterruptedException e) {
      // close() stops us: the call is cancelled there.
    } catch (RuntimeException e) {
      uploadFailure = e;
      call.cancel();
    }
  }

  /** Stops the upload, cancels the call if it is still open and frees every Arrow batch. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (!finished) {
      call.cancel();
    }
    uploader.interrupt();
    try {
      uploader.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Object item; (item = uploads.poll()) != null; ) {
      if (item instanceof VectorSchemaRoot) {
        ((VectorSchemaRoot) item).close();
      }
    }
    call.close();
    if (uploader.isAlive()) {
      // Still inside call.write with a batch of this allocator open: closing it would throw and
      // mask the task's own error. Leave it (and that batch) to the stuck thread.
      logger.warning("uploader of " + allocator.getName() + " still running after 30 s; its allocator is left open");
      return;
    }
    allocator.close();
  }
}
