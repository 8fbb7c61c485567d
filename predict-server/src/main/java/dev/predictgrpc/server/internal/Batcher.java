/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelService;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.TransferPair;
import org.apache.arrow.vector.util.VectorSchemaRootAppender;
import org.jspecify.annotations.Nullable;

/**
 * Dynamic batching for one model version: callers' requests wait in a queue, and one dispatcher
 * thread merges compatible ones (equal parameters, equal input fields) into one model call, then
 * hands each caller exactly its own rows of the output. Thread-safe.
 *
 * <p><b>Forming a batch.</b> The dispatcher takes the oldest waiting request, then every later
 * compatible one that fits in {@code maxRows}, in arrival order, and waits for more until the
 * batch is full (a compatible request no longer fits) or the first request has waited {@code
 * maxQueueDelay}. Requests that arrive while a batch forms join it directly, so the dispatcher
 * wakes only when there is something to do. Incompatible requests stay queued for a later batch;
 * the oldest one leads the next, so none starves. The model runs on the dispatcher thread, one
 * batch at a time, and requests queue meanwhile: under load each batch takes what arrived during
 * the previous one. When requests stop overlapping the dispatcher stops waiting for company (see
 * {@link #formBatch}), so a lone caller does not pay the delay on every request.
 *
 * <p><b>Callers.</b> A caller's gRPC thread blocks in {@link #submit} until its result is ready.
 * While its request is still queued, cancelling the call or passing its deadline withdraws it at
 * once (a {@link Context.CancellationListener}), and the dispatcher drops any that slipped
 * through before the model runs. Once its batch runs, a caller waits for the batch to end, as an
 * unbatched call waits for the model; this is what lets the dispatcher write into the caller's
 * allocator without racing the end of the call.
 *
 * <p><b>Memory.</b> A batch of one request is scored in place, with the caller's own context and
 * input, and nothing is copied. A merged batch copies each input once into a batch allocator
 * (Arrow's {@link VectorSchemaRootAppender}, a bulk copy per buffer), and the output is split
 * with {@link TransferPair#splitAndTransfer} into each caller's allocator: data buffers are
 * slices of the model's output, not copies (Arrow copies only validity bits that do not start on
 * a byte boundary, and rebases variable-width offsets).
 */
final class Batcher {
  /** How every merged batch's allocator name starts; its limit is the per-call limit. */
  static final String BATCH_PREFIX = "batch-";

  private static final Logger logger = Logger.getLogger(Batcher.class.getName());
  private static final AtomicLong batchIds = new AtomicLong();

  /** Lone batches in a row after which the dispatcher stops waiting for company. */
  static final int LONELY_BATCHES = 3;

  private enum State {
    IDLE,
    FORMING,
    RUNNING
  }

  private final ModelService model;
  private final String label;
  private final Batching config;
  private final long maxDelayNanos;
  private final BufferAllocator parent;
  private final long memoryLimit;
  private final ModelStatsRecorder stats;
  private final Thread dispatcher;

  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when the dispatcher has something to do: a first request, a full batch, close. */
  private final Condition wake = lock.newCondition();
  // Guarded by lock:
  private final ArrayDeque<Request> queue = new ArrayDeque<>();
  private final List<Request> forming = new ArrayList<>();
  private @Nullable Request formingKey;
  private int formingRows;
  private boolean formingFull;
  private State state = State.IDLE;
  private boolean closed;
  /** Requests queued or forming; read without the lock for statistics. */
  private volatile int waiting;
  /**
   * Consecutive batches of a single request that waited out the whole delay in vain, reset when
   * a request arrives while the model is busy (there is contention to batch). At {@link
   * #LONELY_BATCHES} the dispatcher stops waiting for company until contention returns.
   */
  private int lonelyBatches;

  /** Dispatcher thread only. */
  private long mergedBatches;

  private Batcher(
      ModelService model,
      Batching config,
      BufferAllocator parent,
      long memoryLimit,
      ModelStatsRecorder stats) {
    this.model = model;
    this.label = model.name() + ":" + model.version();
    this.config = config;
    this.maxDelayNanos = config.maxQueueDelay().toNanos();
    this.parent = parent;
    this.memoryLimit = memoryLimit;
    this.stats = stats;
    this.dispatcher = new Thread(this::dispatch, "predictgrpc-batcher-" + label);
    dispatcher.setDaemon(true);
  }

  /**
   * Starts batching for {@code model}: merged batches take memory from children of {@code
   * parent}, each limited to {@code memoryLimit} bytes.
   */
  static Batcher start(
      ModelService model,
      Batching config,
      BufferAllocator parent,
      long memoryLimit,
      ModelStatsRecorder stats) {
    Batcher batcher = new Batcher(model, config, parent, memoryLimit, stats);
    stats.queueLength(() -> batcher.waiting);
    batcher.dispatcher.start();
    return batcher;
  }

  /**
   * Whether a request of this batch should be queued. Requests that gain nothing from merging
   * ({@code maxRows} rows or more), have no rows, or cannot be merged (dictionary-encoded columns,
   * whose dictionaries differ per call) are scored alone on the caller's thread.
   */
  boolean accepts(VectorSchemaRoot input) {
    int rows = input.getRowCount();
    return rows > 0 && rows < config.maxRows() && !hasDictionary(input.getSchema().getFields());
  }

  private static boolean hasDictionary(List<Field> fields) {
    for (Field field : fields) {
      if (field.getDictionary() != null || hasDictionary(field.getChildren())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Queues a request and waits for its output.
   *
   * <p>The caller retains ownership of {@code input}, which must stay valid until this method
   * returns; it is not retained after. Ownership of the returned root passes to the caller, who
   * must close it unless it is {@code input} itself (a model that echoes a batch of one request).
   *
   * @throws PredictException RESOURCE_EXHAUSTED if the queue is full, UNAVAILABLE if the batcher
   *     is closed, CANCELLED or DEADLINE_EXCEEDED if the call ended while queued
   * @throws Exception whatever the model threw, for a batch of this request alone
   */
  VectorSchemaRoot submit(CallContext context, VectorSchemaRoot input) throws Exception {
    Request request = new Request(context, input);
    enqueue(request);
    Context grpcContext = context.grpcContext();
    // If the call is already cancelled, the listener runs at once and withdraws the request.
    grpcContext.addListener(request, Runnable::run);
    try {
      return await(request);
    } finally {
      grpcContext.removeListener(request);
    }
  }

  private void enqueue(Request request) {
    lock.lock();
    try {
      if (closed) {
        throw new PredictException(
            Status.Code.UNAVAILABLE, "model '" + label + "' is shutting down");
      }
      if (waiting >= config.maxQueuedRequests()) {
        throw new PredictException(
            Status.Code.RESOURCE_EXHAUSTED,
            "model '" + label + "' already has " + waiting
                + " requests waiting for a batch (limit maxQueuedRequests="
                + config.maxQueuedRequests() + ")");
      }
      waiting++;
      if (state == State.RUNNING) {
        lonelyBatches = 0; // It queues behind the model: batching pays again.
      }
      if (state == State.FORMING && formingKey != null && request.compatibleWith(formingKey)) {
        if (!formingFull && formingRows + request.rows <= config.maxRows()) {
          forming.add(request);
          formingRows += request.rows;
          if (formingRows == config.maxRows()) {
            formingFull = true;
            wake.signal();
          }
        } else {
          // It leads the next batch; this one is as full as arrival order allows.
          queue.addLast(request);
          formingFull = true;
          wake.signal();
        }
      } else {
        queue.addLast(request);
        if (state == State.IDLE) {
          wake.signal();
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private VectorSchemaRoot await(Request request) throws Exception {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return request.result.get();
        } catch (InterruptedException e) {
          interrupted = true;
          withdraw(request, new PredictException(Status.Code.CANCELLED,
              "the call was interrupted while it waited for a batch of model '" + label + "'"));
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof Exception) {
            throw (Exception) cause;
          }
          throw (Error) cause;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Fails {@code request} with {@code error} if it has not reached the model yet. */
  private void withdraw(Request request, RuntimeException error) {
    boolean removed;
    lock.lock();
    try {
      removed = queue.remove(request);
      if (!removed && forming.remove(request)) {
        removed = true;
        formingRows -= request.rows;
        if (forming.isEmpty()) {
          wake.signal(); // Nothing left to wait for: start over with the next request.
        }
      }
      if (removed) {
        waiting--;
      }
    } finally {
      lock.unlock();
    }
    if (removed) {
      request.result.completeExceptionally(error);
    }
  }

  /** The dispatcher thread's loop: form a batch, run it, repeat until closed. */
  private void dispatch() {
    while (true) {
      List<Request> batch;
      lock.lock();
      try {
        state = State.IDLE;
        while (queue.isEmpty() && !closed) {
          wake.awaitUninterruptibly();
        }
        if (closed) {
          return;
        }
        formBatch();
        batch = new ArrayList<>(forming);
        forming.clear();
        formingKey = null;
        formingRows = 0;
        waiting -= batch.size();
        state = State.RUNNING;
      } finally {
        lock.unlock();
      }
      if (!batch.isEmpty()) {
        try {
          execute(batch);
        } catch (Throwable t) {
          // Keep the dispatcher alive for the next batch whatever happened; execute() has
          // already answered every caller it could.
          logger.log(Level.SEVERE, "batching for model '" + label + "' failed", t);
          Status status = StatusMapper.toStatus(t, label, -1);
          for (Request request : batch) {
            request.result.completeExceptionally(status.asRuntimeException());
          }
        }
      }
    }
  }

  /**
   * Fills {@link #forming}, waiting up to the first request's delay for more, unless recent
   * batches show there is no one to wait for. Holds the lock.
   *
   * <p>Waiting only pays when requests overlap. A caller alone (or callers that never overlap)
   * would pay the whole delay on every request for nothing, so after {@link #LONELY_BATCHES}
   * batches of one request that waited in vain the dispatcher takes requests as they come; the
   * first request that arrives while the model is busy (contention: batching pays again) or a
   * batch of two brings the delay back. Under load, requests always arrive while the model is
   * busy, so this never shortens the delay there.
   */
  private void formBatch() {
    Request first = queue.pollFirst();
    forming.add(first);
    formingKey = first;
    formingRows = first.rows;
    formingFull = formingRows >= config.maxRows();
    Iterator<Request> queued = queue.iterator();
    while (!formingFull && queued.hasNext()) {
      Request next = queued.next();
      if (next.compatibleWith(first)) {
        if (formingRows + next.rows > config.maxRows()) {
          formingFull = true;
        } else {
          queued.remove();
          forming.add(next);
          formingRows += next.rows;
          formingFull = formingRows == config.maxRows();
        }
      }
    }
    state = State.FORMING;
    long delay = lonelyBatches >= LONELY_BATCHES ? 0 : maxDelayNanos;
    long dispatchAt = first.enqueuedNanos + delay;
    boolean waitedInVain = false;
    while (!formingFull && !closed && !forming.isEmpty()) {
      long wait = dispatchAt - System.nanoTime();
      if (wait <= 0) {
        waitedInVain = delay > 0 && forming.size() == 1;
        break;
      }
      try {
        wake.awaitNanos(wait);
      } catch (InterruptedException e) {
        // Only close() stops the dispatcher; an interrupt just ends this wait early.
        Thread.interrupted();
        break;
      }
    }
    if (forming.size() > 1) {
      lonelyBatches = 0;
    } else if (waitedInVain && lonelyBatches < LONELY_BATCHES) {
      lonelyBatches++;
    }
  }

  /** Runs one batch: drops requests whose calls have ended, then scores the rest. */
  private void execute(List<Request> batch) {
    long start = System.nanoTime();
    List<Request> live = new ArrayList<>(batch.size());
    for (Request request : batch) {
      PredictException ended = endedWhileQueued(request.context.grpcContext());
      if (ended != null) {
        request.result.completeExceptionally(ended);
      } else {
        live.add(request);
      }
    }
    if (live.isEmpty()) {
      return;
    }
    for (Request request : live) {
      stats.queued(start - request.enqueuedNanos);
    }
    if (live.size() == 1) {
      runAlone(live.get(0));
    } else {
      runMerged(live);
    }
  }

  private @Nullable PredictException endedWhileQueued(Context grpcContext) {
    Deadline deadline = grpcContext.getDeadline();
    boolean expired = deadline != null && deadline.isExpired();
    if (!expired && !grpcContext.isCancelled()) {
      return null;
    }
    Status cause = Contexts.statusFromCancelled(grpcContext);
    if (expired || (cause != null && cause.getCode() == Status.Code.DEADLINE_EXCEEDED)) {
      return new PredictException(
          Status.Code.DEADLINE_EXCEEDED,
          "the call's deadline passed while it waited for a batch of model '" + label + "'");
    }
    return new PredictException(
        Status.Code.CANCELLED,
        "the call was cancelled while it waited for a batch of model '" + label + "'");
  }

  /** A batch of one: the model gets the caller's own context and input, nothing is copied. */
  private void runAlone(Request request) {
    long start = System.nanoTime();
    VectorSchemaRoot output;
    try {
      output = model.predict(request.context, request.input);
    } catch (Throwable t) {
      stats.modelCall(request.rows, System.nanoTime() - start);
      // Raw, so the caller maps it exactly as an unbatched call would (with its batch index).
      request.result.completeExceptionally(t);
      return;
    }
    stats.modelCall(request.rows, System.nanoTime() - start);
    request.result.complete(output);
  }

  /** Concatenates the inputs, runs the model once, and splits the output among the callers. */
  private void runMerged(List<Request> live) {
    int totalRows = 0;
    List<CallContext> callers = new ArrayList<>(live.size());
    for (Request request : live) {
      totalRows += request.rows;
      callers.add(request.context);
    }
    BufferAllocator allocator =
        parent.newChildAllocator(BATCH_PREFIX + batchIds.incrementAndGet() + "-" + label, 0, memoryLimit);
    VectorSchemaRoot merged = null;
    VectorSchemaRoot output = null;
    try {
      try {
        merged = concatenate(live, allocator, totalRows);
      } catch (RuntimeException e) {
        // A column type Arrow cannot append: score these requests one by one instead.
        logger.log(Level.FINE, "cannot merge batches for model '" + label + "'", e);
        for (Request request : live) {
          runAlone(request);
        }
        return;
      }
      BatchContext context = new BatchContext(allocator, callers, mergedBatches++);
      long start = System.nanoTime();
      try {
        output = model.predict(context, merged);
      } catch (Throwable t) {
        stats.modelCall(totalRows, System.nanoTime() - start);
        failAll(live, StatusMapper.toStatus(t, label, -1));
        return;
      }
      stats.modelCall(totalRows, System.nanoTime() - start);
      Status fault = checkOutput(output, totalRows, live.size());
      if (fault != null) {
        failAll(live, fault);
        return;
      }
      List<VectorSchemaRoot> slices = new ArrayList<>(live.size());
      try {
        int offset = 0;
        for (Request request : live) {
          slices.add(slice(output, offset, request.rows, request.context.allocator()));
          offset += request.rows;
        }
      } catch (RuntimeException e) {
        slices.forEach(VectorSchemaRoot::close);
        failAll(
            live,
            StatusMapper.toStatus(
                new IllegalStateException("cannot split the output of a merged batch", e),
                label,
                -1));
        return;
      }
      for (int i = 0; i < live.size(); i++) {
        live.get(i).result.complete(slices.get(i));
      }
    } finally {
      if (output != null && output != merged) {
        output.close();
      }
      if (merged != null) {
        merged.close();
      }
      CallAllocators.release(allocator);
    }
  }

  private static VectorSchemaRoot concatenate(
      List<Request> live, BufferAllocator allocator, int totalRows) {
    VectorSchemaRoot merged = VectorSchemaRoot.create(live.get(0).input.getSchema(), allocator);
    try {
      for (FieldVector vector : merged.getFieldVectors()) {
        vector.setInitialCapacity(totalRows);
      }
      merged.allocateNew();
      VectorSchemaRoot[] inputs = new VectorSchemaRoot[live.size()];
      for (int i = 0; i < inputs.length; i++) {
        inputs[i] = live.get(i).input;
      }
      // The fields were compared when the requests were grouped, so no second check here.
      VectorSchemaRootAppender.append(false, merged, inputs);
      return merged;
    } catch (RuntimeException e) {
      merged.close();
      throw e;
    }
  }

  /** The part of the model's output that answers one request, in the caller's own memory. */
  private static VectorSchemaRoot slice(
      VectorSchemaRoot output, int offset, int rows, BufferAllocator target) {
    List<FieldVector> parts = new ArrayList<>(output.getFieldVectors().size());
    try {
      for (FieldVector vector : output.getFieldVectors()) {
        TransferPair pair = vector.getTransferPair(target);
        parts.add((FieldVector) pair.getTo());
        pair.splitAndTransfer(offset, rows);
      }
    } catch (RuntimeException e) {
      parts.forEach(FieldVector::close);
      throw e;
    }
    // The output's own schema, metadata included, so every slice matches an unmerged output.
    return new VectorSchemaRoot(output.getSchema(), parts, rows);
  }

  private @Nullable Status checkOutput(
      @Nullable VectorSchemaRoot output, int totalRows, int requests) {
    if (output == null) {
      return Status.INTERNAL.withDescription(
          "model '" + label + "' returned no batch for a merged batch of " + requests
              + " requests");
    }
    if (output.getRowCount() != totalRows) {
      return Status.INTERNAL.withDescription(
          "model '" + label + "' returned " + output.getRowCount() + " rows for a merged batch of "
              + totalRows + " rows (" + requests + " requests)");
    }
    return null;
  }

  private static void failAll(List<Request> requests, Status status) {
    for (Request request : requests) {
      // One exception per caller: each is thrown on its own thread.
      request.result.completeExceptionally(status.asRuntimeException());
    }
  }

  /** Requests waiting right now, queued or in a forming batch. */
  int waiting() {
    return waiting;
  }

  /**
   * Stops batching: fails every waiting request with UNAVAILABLE, lets a running batch finish (up
   * to {@code timeout}), and ends the dispatcher thread. Idempotent.
   */
  void close(Duration timeout) {
    List<Request> dropped = new ArrayList<>();
    lock.lock();
    try {
      closed = true;
      dropped.addAll(forming);
      dropped.addAll(queue);
      forming.clear();
      queue.clear();
      waiting = 0;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    for (Request request : dropped) {
      request.result.completeExceptionally(
          new PredictException(Status.Code.UNAVAILABLE, "model '" + label + "' is shutting down"));
    }
    try {
      dispatcher.join(timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (dispatcher.isAlive()) {
      logger.warning(
          "model '" + label + "' was still scoring a batch " + timeout.toMillis()
              + " ms after shutdown began");
    }
  }

  /** One caller's batch, waiting for its output. */
  private final class Request implements Context.CancellationListener {
    final CallContext context;
    final VectorSchemaRoot input;
    final List<Field> fields;
    final Map<String, String> parameters;
    final int rows;
    final long enqueuedNanos = System.nanoTime();
    final CompletableFuture<VectorSchemaRoot> result = new CompletableFuture<>();

    Request(CallContext context, VectorSchemaRoot input) {
      this.context = context;
      this.input = input;
      this.fields = input.getSchema().getFields();
      this.parameters = context.parameters();
      this.rows = input.getRowCount();
    }

    /** Same parameters and the same fields (names, types, nullability), so one model call fits. */
    boolean compatibleWith(Request other) {
      return (fields == other.fields || fields.equals(other.fields))
          && (parameters == other.parameters || parameters.equals(other.parameters));
    }

    @Override
    public void cancelled(Context grpcContext) {
      PredictException ended = endedWhileQueued(grpcContext);
      withdraw(
          this,
          ended != null
              ? ended
              : new PredictException(
                  Status.Code.CANCELLED,
                  "the call was cancelled while it waited for a batch of model '" + label + "'"));
    }
  }

  @Override
  public String toString() {
    return "Batcher{" + label + ", " + config + ", waiting=" + waiting + "}";
  }
}
