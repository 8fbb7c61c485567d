/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.common.PredictException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.jspecify.annotations.Nullable;

/**
 * The client side of one {@code PredictStream} call: uploads input batches as chunks and decodes
 * the result chunks back into batches.
 *
 * <p><b>Upload.</b> Either pushed by the caller through {@link #write} (which blocks while the
 * transport is not ready) or, with a {@link BatchSource}, pulled by the call itself from gRPC's
 * onReady callback. Either way a batch is serialized only when the transport can take more, so a
 * fast producer waits for the network instead of filling memory.
 *
 * <p><b>Download.</b> Inbound flow control is manual: the call asks for {@value #PREFETCH}
 * messages up front and one more each time the reader takes one, so at most that many chunks wait
 * in memory. Results are decoded on the reader's thread.
 *
 * <p><b>Threads.</b> gRPC callbacks run on the channel's executor, one at a time. Writes ({@link
 * #write}, {@link #completeInput}) come from one caller thread or, in pull mode, only from the
 * onReady callback. Reads ({@link #nextResult}, {@link #resultRoot}) come from one reader thread.
 * {@link #cancel} and {@link #close} may be called from any thread.
 */
public final class StreamingCall
    implements ClientResponseObserver<PredictStreamRequest, PredictStreamResponse> {
  /** Response messages requested ahead of the reader: bounds buffered chunks, keeps the pipe full. */
  static final int PREFETCH = 4;

  private static final Object END = new Object();

  private final BufferAllocator allocator;
  private final int maxChunkBytes;
  private final StreamHeader header;
  private final @Nullable BatchSource source;
  private final LinkedBlockingQueue<Object> inbound = new LinkedBlockingQueue<>();
  private final ArrowChunkDecoder decoder;
  private final Object readyLock = new Object();
  private final Object uploadLock = new Object();

  private volatile @Nullable ClientCallStreamObserver<PredictStreamRequest> requests;
  private volatile boolean callClosed;
  private volatile @Nullable Throwable uploadFailure;
  private volatile String answeredVersion = "";

  // Upload state: guarded by uploadLock.
  private @Nullable ArrowChunkEncoder encoder;
  private boolean headerSent;
  private boolean inputComplete;
  private long batchesSent;

  // Download state: reader thread only.
  private boolean resultsEnded;
  private boolean closed;

  private StreamingCall(
      BufferAllocator allocator, int maxChunkBytes, StreamHeader header, @Nullable BatchSource source) {
    this.allocator = allocator;
    this.maxChunkBytes = maxChunkBytes;
    this.header = header;
    this.source = source;
    this.decoder = ArrowChunkDecoder.builder(allocator).build();
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
      int maxChunkBytes,
      StreamHeader header,
      @Nullable BatchSource source) {
    StreamingCall call = new StreamingCall(allocator, maxChunkBytes, header, source);
    try {
      ClientCalls.asyncBidiStreamingCall(
          channel.newCall(PredictionServiceGrpc.getPredictStreamMethod(), options), call);
      if (source == null) {
        synchronized (call.uploadLock) {
          call.sendHeaderOnce();
        }
      }
    } catch (RuntimeException e) {
      call.close();
      throw e;
    }
    return call;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<PredictStreamRequest> requestStream) {
    this.requests = requestStream;
    requestStream.disableAutoRequestWithInitial(PREFETCH);
    requestStream.setOnReadyHandler(this::onReady);
  }

  @Override
  public void onNext(PredictStreamResponse response) {
    if (response.hasHeader()) {
      answeredVersion = response.getHeader().getModel().getVersion();
      requests.request(1); // The header is consumed here, not by the reader.
    } else {
      inbound.add(response.getChunk());
    }
  }

  @Override
  public void onError(Throwable t) {
    callClosed = true;
    inbound.add(t);
    wakeWriters();
  }

  @Override
  public void onCompleted() {
    callClosed = true;
    inbound.add(END);
    wakeWriters();
  }

  private void onReady() {
    if (source != null) {
      pump();
    } else {
      wakeWriters();
    }
  }

  /** Pull mode: writes batches from the source while the transport is ready. */
  private void pump() {
    synchronized (uploadLock) {
      if (inputComplete || callClosed || closed) {
        return;
      }
      try {
        sendHeaderOnce();
        while (requests.isReady()) {
          VectorSchemaRoot batch = source.next();
          if (batch == null) {
            completeInputLocked();
            return;
          }
          writeLocked(batch, source.dictionaries());
        }
      } catch (Throwable t) {
        uploadFailure = t;
        requests.cancel("the client's input failed", t);
      }
    }
  }

  /**
   * Push mode: sends one batch, waiting first until the transport is ready.
   *
   * <p>The caller retains ownership of {@code batch}; it is not retained after this method
   * returns.
   *
   * @throws PredictException if the call has failed or ended
   */
  public void write(VectorSchemaRoot batch, @Nullable DictionaryProvider dictionaries) {
    checkPushMode();
    awaitReady();
    synchronized (uploadLock) {
      if (inputComplete) {
        throw new IllegalStateException("the input was already completed");
      }
      writeLocked(batch, dictionaries);
    }
  }

  /** Push mode: ends the input (the server then finishes the results). */
  public void completeInput() {
    checkPushMode();
    synchronized (uploadLock) {
      if (!inputComplete && !callClosed) {
        completeInputLocked();
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
          return true;
        }
        Object item = inbound.take();
        if (item instanceof ByteString) {
          requests.request(1);
          decoder.append((ByteString) item);
        } else if (item == END) {
          resultsEnded = true;
          decoder.finish();
          checkResultCount();
          return false;
        } else {
          resultsEnded = true;
          Throwable failure = uploadFailure != null ? uploadFailure : (Throwable) item;
          throw Statuses.toPredictException(failure);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      cancel("the reading thread was interrupted", e);
      resultsEnded = true;
      throw new PredictException(Status.Code.CANCELLED, "interrupted while waiting for results", e);
    } catch (PredictException e) {
      throw e;
    } catch (RuntimeException e) {
      resultsEnded = true;
      cancel("the client could not decode the results", e);
      throw Statuses.toPredictException(e);
    }
  }

  /** The current result batch. Borrowed: valid until the next {@link #nextResult()}. */
  public VectorSchemaRoot resultRoot() {
    return decoder.root();
  }

  /** Moves the current result batch into a root the caller owns; see the decoder. */
  public VectorSchemaRoot takeResult(BufferAllocator target) {
    return decoder.takeBatch(target);
  }

  /** Dictionaries of dictionary-encoded result columns; borrowed until {@link #close()}. */
  public DictionaryProvider resultDictionaries() {
    return decoder.dictionaries();
  }

  /** The version of the model that answers, once its header has arrived; else empty. */
  public String answeredVersion() {
    return answeredVersion;
  }

  /** Result batches read so far. */
  public long resultBatches() {
    return decoder.batchesDecoded();
  }

  /** Result rows read so far. */
  public long resultRows() {
    return decoder.rowsDecoded();
  }

  /** Cancels the call if it is still running. Safe from any thread. */
  public void cancel(String message, @Nullable Throwable cause) {
    ClientCallStreamObserver<PredictStreamRequest> r = requests;
    if (r != null && !callClosed) {
      r.cancel(message, cause);
    }
  }

  /**
   * Cancels the call if it has not finished and releases its memory. Call from the reader thread
   * once reading is over; idempotent.
   */
  public void close() {
    if (closed) {
      return;
    }
    cancel("the client closed the stream", null);
    synchronized (uploadLock) {
      // Holding the lock means no pump is touching the caller's source any more.
      closed = true;
    }
    inbound.clear();
    decoder.close();
    allocator.close();
  }

  private void sendHeaderOnce() {
    if (!headerSent) {
      requests.onNext(PredictStreamRequest.newBuilder().setHeader(header).build());
      headerSent = true;
    }
  }

  private void writeLocked(VectorSchemaRoot batch, @Nullable DictionaryProvider dictionaries) {
    if (callClosed) {
      throw callEndedException();
    }
    if (encoder == null) {
      encoder =
          ArrowChunkEncoder.create(
              batch.getSchema(),
              dictionaries,
              maxChunkBytes,
              chunk -> requests.onNext(PredictStreamRequest.newBuilder().setChunk(chunk).build()));
    }
    encoder.writeBatch(batch);
    batchesSent++;
  }

  private void completeInputLocked() {
    sendHeaderOnce();
    if (encoder != null) {
      encoder.end();
    }
    // With no batch there is no schema to send: an empty chunk stream is a valid "no input" and
    // the server answers with an empty output.
    inputComplete = true;
    requests.onCompleted();
  }

  private void awaitReady() {
    synchronized (readyLock) {
      while (!requests.isReady()) {
        if (callClosed) {
          throw callEndedException();
        }
        try {
          // onReady wakes us; the timeout only bounds the cost of a wake-up lost to a race
          // between isReady() turning true and this wait starting.
          readyLock.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          cancel("the writing thread was interrupted", e);
          throw new PredictException(Status.Code.CANCELLED, "interrupted while sending", e);
        }
      }
    }
    if (callClosed) {
      throw callEndedException();
    }
  }

  private void wakeWriters() {
    synchronized (readyLock) {
      readyLock.notifyAll();
    }
  }

  private PredictException callEndedException() {
    return new PredictException(
        Status.Code.FAILED_PRECONDITION,
        "the stream has already ended; read its results to see why");
  }

  private void checkPushMode() {
    if (source != null) {
      throw new IllegalStateException("this stream uploads its own input");
    }
  }

  private void checkResultCount() {
    long sent;
    synchronized (uploadLock) {
      sent = batchesSent;
    }
    if (decoder.batchesDecoded() != sent) {
      throw new PredictException(
          Status.Code.INTERNAL,
          "the server returned " + decoder.batchesDecoded() + " result batches for " + sent
              + " input batches");
    }
  }
}
