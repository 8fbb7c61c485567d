/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.client.internal.Attempt.Inbound;
import dev.predictgrpc.common.PredictException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * The client side of one streaming prediction: uploads input batches as chunks, decodes result
 * chunks back into batches, and resumes on another replica if the serving one goes away.
 *
 * <p><b>Upload.</b> Either pushed by the caller through {@link #write} (which blocks while the
 * transport is not ready) or, with a {@link BatchSource}, pulled by the call itself from gRPC's
 * onReady callback. Either way a batch is serialized only when the transport can take more, so a
 * fast producer waits for the network instead of filling memory.
 *
 * <p><b>Download.</b> Inbound flow control is manual: each attempt asks for {@value #PREFETCH}
 * messages up front and one more each time the reader takes one, so at most that many chunks wait
 * in memory. Results are decoded on the reader's thread.
 *
 * <p><b>Resume.</b> The chunks of every batch sent but not yet answered are kept (the replay
 * buffer, bounded by {@link StreamSettings#maxReplayBytes()}: uploads pause while it is full).
 * If the call fails because the replica died or went away (UNAVAILABLE, or a CANCELLED reset this
 * side did not ask for), the reader starts a new call,
 * which the channel's load balancer routes to a healthy replica, and sends the stream's schema and
 * only the unanswered batches again. Results already delivered are not repeated, so the caller
 * sees every result exactly once and in order. Each attempt's result stream is decoded afresh.
 *
 * <p><b>Parts.</b> Each gRPC call is an {@code Attempt}, which tags what it receives with itself;
 * the encoder and the replay buffer form the {@code Upload}. This class owns the lock, the flags
 * and the reader's state, and decides when to resume.
 *
 * <p><b>Threads.</b> gRPC callbacks run on the channel's executor, one at a time per attempt.
 * Upload state is guarded by {@code lock}: writes come from one caller thread or, in pull mode,
 * from onReady callbacks and the reader thread (which resumes pumping when results free replay
 * space). Reads ({@link #nextResult}, {@link #resultRoot}) come from one reader thread. {@link
 * #cancel} and {@link #close} may be called from any thread.
 */
public final class StreamingCall {
  /** Response messages requested ahead of the reader: bounds buffered chunks, keeps the pipe full. */
  static final int PREFETCH = 4;

  private static final Logger logger = Logger.getLogger(StreamingCall.class.getName());

  private final Channel channel;
  private final CallOptions options;
  private final BufferAllocator allocator;
  private final StreamSettings settings;
  private final StreamHeader header;
  private final @Nullable BatchSource source;
  private final LinkedBlockingQueue<Inbound> inbound = new LinkedBlockingQueue<>();
  /** Set once the reader is gone: inbound chunks are then released as they arrive. */
  private volatile boolean inboundClosed;
  private final Object lock = new Object();
  private final Attempt.Listener events = new Events();

  private volatile Attempt attempt;
  private volatile @Nullable Throwable uploadFailure;
  /** Set by the reader once the call has ended for good; writers then stop waiting. */
  private volatile boolean finished;
  private volatile String answeredVersion = "";
  /** True once this side cancelled; a CANCELLED status is then ours, not a dying server's. */
  private volatile boolean cancelledHere;

  // Upload state: guarded by lock (the Upload, and the Attempt's senders, rely on it).
  private final Upload upload;
  private boolean closed;

  // Download state: reader thread only.
  private ArrowChunkDecoder decoder;
  private long resultsDelivered;
  private long resultRows;
  private int resumes;
  private boolean resultsEnded;

  private StreamingCall(
      Channel channel,
      CallOptions options,
      BufferAllocator allocator,
      StreamSettings settings,
      StreamHeader header,
      @Nullable BatchSource source) {
    this.channel = channel;
    this.options = options;
    this.allocator = allocator;
    this.settings = settings;
    this.header = header;
    this.source = source;
    this.upload = new Upload(settings, allocator);
    this.decoder = newDecoder();
  }

  /**
   * Starts a call. With a {@code source}, the call uploads it by itself; without one, the caller
   * pushes batches with {@link #write}.
   *
   * @param allocator the call's own allocator; the call closes it in {@link #close()}
   */
  public static StreamingCall start(
      Channel channel,
      CallOptions options,
      BufferAllocator allocator,
      StreamSettings settings,
      StreamHeader header,
      @Nullable BatchSource source) {
    StreamingCall call = new StreamingCall(channel, options, allocator, settings, header, source);
    try {
      synchronized (call.lock) {
        call.attempt = call.newAttempt();
        if (source == null) {
          call.attempt.sendHeaderOnce();
        }
      }
    } catch (RuntimeException e) {
      call.close();
      throw e;
    }
    return call;
  }

  /**
   * Push mode: sends one batch, waiting first until the transport is ready (and, when resume is
   * on, until the replay buffer has room).
   *
   * <p>The caller retains ownership of {@code batch}; it is not retained after this method
   * returns.
   *
   * @throws PredictException if the call has failed or ended
   */
  public void write(VectorSchemaRoot batch, @Nullable DictionaryProvider dictionaries) {
    checkPushMode();
    synchronized (lock) {
      awaitWritableLocked();
      if (upload.inputComplete()) {
        throw new IllegalStateException("the input was already completed");
      }
      try {
        upload.write(attempt, batch, dictionaries);
      } catch (IllegalStateException e) {
        // gRPC refuses messages on a call this side cancelled ("call was cancelled"): a cancel()
        // from another thread can land between the wait above and the send.
        if (cancelledHere) {
          throw new PredictException(Status.Code.CANCELLED, "the call was cancelled", e);
        }
        throw e;
      }
    }
  }

  /** Push mode: ends the input (the server then finishes the results). */
  public void completeInput() {
    checkPushMode();
    synchronized (lock) {
      if (!upload.inputComplete() && !finished) {
        upload.complete(attempt);
      }
    }
  }

  /**
   * Waits for the next result batch and loads it into {@link #resultRoot()}.
   *
   * @return false once every result has been read
   * @throws PredictException if the call failed (with the server's status) or was cancelled
   */
  public boolean nextResult() {
    if (resultsEnded) {
      return false;
    }
    try {
      while (true) {
        if (decoder.nextBatch()) {
          onResultDelivered(decoder.root().getRowCount());
          return true;
        }
        Inbound item = inbound.take();
        if (item.attempt != attempt) {
          item.release.run();
          continue; // Left over from an attempt that failed and was resumed.
        }
        if (item.payload instanceof List) {
          item.attempt.requests.request(1);
          @SuppressWarnings("unchecked") // Attempt sends views of network buffers as a list.
          List<ByteBuffer> views = (List<ByteBuffer>) item.payload;
          decoder.append(views, item.release);
        } else if (item.payload instanceof ByteString) {
          item.attempt.requests.request(1);
          decoder.append((ByteString) item.payload);
        } else if (item.payload == Attempt.END) {
          decoder.finish();
          checkResultCount();
          endResults();
          return false;
        } else if (!resumeAfter((Throwable) item.payload)) {
          endResults();
          Throwable failure = uploadFailure != null ? uploadFailure : (Throwable) item.payload;
          throw Statuses.toPredictException(failure);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      endResults();
      cancel("the reading thread was interrupted", e);
      throw new PredictException(Status.Code.CANCELLED, "interrupted while waiting for results", e);
    } catch (PredictException e) {
      endResults();
      throw e;
    } catch (RuntimeException e) {
      endResults();
      cancel("the client could not decode the results", e);
      throw Statuses.toPredictException(e);
    }
  }

  /**
   * The current result batch. Borrowed: valid until the next {@link #nextResult()}. After a
   * resume, a different root object holds the results.
   */
  public VectorSchemaRoot resultRoot() {
    return decoder.root();
  }

  /** Moves the current result batch into a root the caller owns; see the decoder. */
  public VectorSchemaRoot takeResult(BufferAllocator target) {
    return decoder.takeBatch(target);
  }

  /** Dictionaries of dictionary-encoded result columns; borrowed until the next batch. */
  public DictionaryProvider resultDictionaries() {
    return decoder.dictionaries();
  }

  /** The version of the model that answers, once its header has arrived; else empty. */
  public String answeredVersion() {
    return answeredVersion;
  }

  /** Result batches read so far. */
  public long resultBatches() {
    return resultsDelivered;
  }

  /** Result rows read so far. */
  public long resultRows() {
    return resultRows;
  }

  /** How many times the stream was resumed on another call (another replica). */
  public int resumes() {
    return resumes;
  }

  /** Cancels the call if it is still running. Safe from any thread. */
  public void cancel(String message, @Nullable Throwable cause) {
    cancelledHere = true;
    Attempt current = attempt;
    if (current != null) {
      current.cancel(message, cause);
    }
  }

  /**
   * Cancels the call if it has not finished and releases its memory. Call from the reader thread
   * once reading is over; idempotent.
   */
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      // Holding the lock means no pump is touching the caller's source any more.
      closed = true;
      finished = true;
      lock.notifyAll();
      upload.clear();
    }
    cancel("the client closed the stream", null);
    inboundClosed = true;
    releaseInbound();
    decoder.close();
    allocator.close();
  }

  // ---------------------------------------------------------------- upload

  /** Pull mode: writes batches from the source while the transport and replay buffer allow. */
  private void pump(Attempt from) {
    synchronized (lock) {
      if (from != attempt || upload.inputComplete() || finished || closed || from.closed) {
        return;
      }
      try {
        from.sendHeaderOnce();
        while (from.requests.isReady() && upload.hasRoom()) {
          VectorSchemaRoot batch = source.next();
          if (batch == null) {
            upload.complete(from);
            return;
          }
          upload.write(from, batch, source.dictionaries());
        }
      } catch (Throwable t) {
        uploadFailure = t;
        cancelledHere = true;
        from.cancel("the client's input failed", t);
      }
    }
  }

  /**
   * True if a call that ended with {@code status} may be resumed on another replica: it died or
   * was stopped (UNAVAILABLE, or a server-side reset gRPC reports as CANCELLED; only a CANCELLED we
   * caused is final), and resume attempts are left.
   */
  private boolean mayResume(@Nullable Status status) {
    if (status == null || resumes >= settings.resumeAttempts()) {
      return false;
    }
    return status.getCode() == Status.Code.UNAVAILABLE
        || (status.getCode() == Status.Code.CANCELLED && !cancelledHere);
  }

  /** Waits until a write may go out; the reader's resume or results wake us. */
  private void awaitWritableLocked() {
    while (true) {
      if (finished) {
        throw endedException(attempt.closeStatus);
      }
      if (cancelledHere) {
        // No resume follows a cancel from this side: nothing will make the call writable again,
        // so do not wait for the reader to notice.
        throw new PredictException(Status.Code.CANCELLED, "the call was cancelled");
      }
      Attempt current = attempt;
      if (!current.closed && current.requests.isReady() && upload.hasRoom()) {
        return;
      }
      if (current.closed && !mayResume(current.closeStatus)) {
        // The call ended for good (the server answered, or refused it, say with a limit): no
        // resume will make it writable, so fail now rather than wait for a reader to notice.
        throw endedException(current.closeStatus);
      }
      try {
        // onReady, results and resumes notify; the timeout only bounds the cost of a wake-up lost
        // to a race between isReady() turning true and this wait starting.
        lock.wait(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        cancel("the writing thread was interrupted", e);
        throw new PredictException(Status.Code.CANCELLED, "interrupted while sending", e);
      }
    }
  }

  /**
   * What a write on an ended call throws: the call's own failure (say RESOURCE_EXHAUSTED from a
   * server limit that refused the stream before the write), so the writer learns why without
   * reading the results; FAILED_PRECONDITION if the call ended normally.
   */
  private static PredictException endedException(@Nullable Status closeStatus) {
    if (closeStatus != null && !closeStatus.isOk()) {
      return Statuses.toPredictException(closeStatus.asRuntimeException());
    }
    return new PredictException(Status.Code.FAILED_PRECONDITION, "the stream has already ended");
  }

  // ---------------------------------------------------------------- download

  private void onResultDelivered(int rows) {
    resultsDelivered++;
    resultRows += rows;
    synchronized (lock) {
      upload.batchAnswered();
      lock.notifyAll();
    }
    if (source != null && answered(attempt)) {
      pump(attempt); // Replay space freed: the upload may have paused for it.
    }
  }

  private static boolean answered(Attempt attempt) {
    return !attempt.closed;
  }

  /**
   * Resumes on a new call if the failure allows it; returns false if the caller must see it.
   */
  private boolean resumeAfter(Throwable failure) throws InterruptedException {
    Status status = Status.fromThrowable(failure);
    // A replica that dies or is stopped hard shows up as UNAVAILABLE (connection lost) or as a
    // server-side reset, which gRPC reports as CANCELLED; only CANCELLED we caused ourselves is final.
    if (uploadFailure != null || closed || !mayResume(status)) {
      return false;
    }
    resumes++;
    logger.log(
        Level.INFO,
        "stream to model " + header.getModel().getName() + " failed (" + status + "); resuming with "
            + upload.unansweredBatches() + " unanswered batches, attempt " + resumes);
    // Let the load balancer notice the dead replica before the new call picks one.
    Thread.sleep(Math.min(1000, 50L << resumes));
    decoder.close();
    decoder = newDecoder();
    synchronized (lock) {
      if (closed) {
        return false;
      }
      attempt = newAttempt();
      upload.resendOn(attempt);
      lock.notifyAll();
    }
    return true;
  }

  private void checkResultCount() {
    long sent;
    synchronized (lock) {
      sent = upload.batchesSent();
    }
    if (resultsDelivered != sent) {
      throw new PredictException(
          Status.Code.INTERNAL,
          "the server returned " + resultsDelivered + " result batches for " + sent
              + " input batches");
    }
  }

  private void endResults() {
    resultsEnded = true;
    finished = true;
    synchronized (lock) {
      lock.notifyAll();
    }
  }

  /** Drops every queued inbound item, releasing the network buffers of chunks. Any thread. */
  private void releaseInbound() {
    for (Inbound item = inbound.poll(); item != null; item = inbound.poll()) {
      item.release.run();
    }
  }

  private ArrowChunkDecoder newDecoder() {
    return ArrowChunkDecoder.builder(allocator).build();
  }

  private void checkPushMode() {
    if (source != null) {
      throw new IllegalStateException("this stream uploads its own input");
    }
  }

  /** Must hold {@code lock}: creates and starts the next gRPC call. */
  private Attempt newAttempt() {
    return Attempt.start(channel, options, header, events);
  }

  /** Routes each attempt's callbacks to this stream; runs on gRPC's callback thread. */
  private final class Events implements Attempt.Listener {
    @Override
    public void onModelVersion(String version) {
      answeredVersion = version;
    }

    @Override
    public void onInbound(Inbound item) {
      inbound.add(item);
      if (inboundClosed) {
        releaseInbound(); // The reader has gone: nobody else will.
      }
    }

    @Override
    public void onReady(Attempt ready) {
      if (source != null) {
        pump(ready);
      } else {
        wakeWriters();
      }
    }

    @Override
    public void onClosed() {
      wakeWriters();
    }

    private void wakeWriters() {
      synchronized (lock) {
        lock.notifyAll();
      }
    }
  }
}
