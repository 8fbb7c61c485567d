/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.common.internal.ReceivedBytes;
import dev.predictgrpc.common.internal.StreamMarshallers;
import dev.predictgrpc.common.internal.ZeroCopyMarshaller;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One gRPC call of a {@link StreamingCall}; the stream starts a new one each time it resumes. It
 * observes the call's responses and hands them, tagged with itself, to its {@link Listener}, so the
 * reader can tell a live attempt's messages from those a failed one left behind.
 *
 * <p><b>Threads.</b> gRPC runs the observer callbacks on the channel's executor, one at a time.
 * {@link #requests} and {@link #closed} are volatile because writer and reader threads read them.
 * The senders ({@link #sendHeaderOnce}, {@link #send}, {@link #sendAll}) must be called holding
 * the stream's upload lock: that lock is what serializes writes to the request stream, and it
 * guards {@code headerSent}. {@link #cancel} is safe from any thread.
 */
final class Attempt implements ClientResponseObserver<PredictStreamRequest, PredictStreamResponse> {
  /** The payload that marks a call which completed normally. */
  static final Object END = new Object();

  /**
   * Receives result chunks as views of the network buffers they arrived in; whoever consumes an
   * {@link Inbound} chunk must run its {@link Inbound#release}. Shared by all streams.
   */
  static final ZeroCopyMarshaller<PredictStreamResponse> RESPONSES =
      StreamMarshallers.responses(
          StreamMarshallers.inboundCopyPool(ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES, 2));

  /** {@code PredictStream} with {@link #RESPONSES}; the bytes on the wire are the same. */
  private static final MethodDescriptor<PredictStreamRequest, PredictStreamResponse> METHOD =
      StreamMarshallers.predictStream(StreamMarshallers.requests(), RESPONSES);

  private static final Runnable NOTHING_TO_RELEASE = () -> {};

  /** What an attempt reports to its stream. Called on gRPC's callback thread, serialized. */
  interface Listener {
    /** The response header arrived, naming the model version that answers. */
    void onModelVersion(String version);

    /** A result chunk, the failure ({@link Throwable}) or {@link #END} arrived for the reader. */
    void onInbound(Inbound item);

    /** The transport can take more requests on {@code attempt}. */
    void onReady(Attempt attempt);

    /** The call ended; writers waiting for it to become ready must look again. */
    void onClosed();
  }

  /**
   * A received chunk (a {@link ByteString}, or a {@code List<ByteBuffer>} of views of the network
   * buffers it arrived in), a failure ({@link Throwable}) or {@link #END}, tagged with the attempt
   * it belongs to. Whoever takes it must run {@link #release} exactly once, when its bytes are no
   * longer needed (or hand that duty on).
   */
  static final class Inbound {
    final Attempt attempt;
    final Object payload;
    final Runnable release;

    Inbound(Attempt attempt, Object payload) {
      this(attempt, payload, NOTHING_TO_RELEASE);
    }

    Inbound(Attempt attempt, Object payload, Runnable release) {
      this.attempt = attempt;
      this.payload = payload;
      this.release = release;
    }
  }

  private final StreamHeader header;
  private final Listener listener;
  volatile ClientCallStreamObserver<PredictStreamRequest> requests;
  volatile boolean closed;
  /** How the call ended once {@link #closed}: OK, or the failure's status. */
  volatile @Nullable Status closeStatus;
  private boolean headerSent;

  private Attempt(StreamHeader header, Listener listener) {
    this.header = header;
    this.listener = listener;
  }

  /**
   * Must hold the stream's lock: creates and starts the next gRPC call. gRPC calls {@link
   * #beforeStart} before this returns, so {@link #requests} is set on the returned attempt.
   */
  static Attempt start(
      Channel channel, CallOptions options, StreamHeader header, Listener listener) {
    Attempt next = new Attempt(header, listener);
    ClientCalls.asyncBidiStreamingCall(
        channel.newCall(METHOD, options), next);
    return next;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<PredictStreamRequest> requestStream) {
    this.requests = requestStream;
    requestStream.disableAutoRequestWithInitial(StreamingCall.PREFETCH);
    requestStream.setOnReadyHandler(() -> listener.onReady(this));
  }

  @Override
  public void onNext(PredictStreamResponse response) {
    if (response.hasHeader()) {
      listener.onModelVersion(response.getHeader().getModel().getVersion());
      requests.request(1); // The header is consumed here, not by the reader.
      return;
    }
    ReceivedBytes received = RESPONSES.takeBytes(response);
    if (received != null) {
      listener.onInbound(new Inbound(this, received.buffers(), received::release));
    } else {
      listener.onInbound(new Inbound(this, response.getChunk()));
    }
  }

  @Override
  public void onError(Throwable t) {
    closeStatus = Status.fromThrowable(t);
    closed = true;
    listener.onInbound(new Inbound(this, t));
    listener.onClosed();
  }

  @Override
  public void onCompleted() {
    closeStatus = Status.OK;
    closed = true;
    listener.onInbound(new Inbound(this, END));
    listener.onClosed();
  }

  /** Must hold the stream's lock. */
  void sendHeaderOnce() {
    if (!headerSent) {
      requests.onNext(PredictStreamRequest.newBuilder().setHeader(header).build());
      headerSent = true;
    }
  }

  /** Must hold the stream's lock. */
  void send(ByteString chunk) {
    requests.onNext(PredictStreamRequest.newBuilder().setChunk(chunk).build());
  }

  /** Must hold the stream's lock. */
  void sendAll(List<ByteString> chunks) {
    for (ByteString chunk : chunks) {
      send(chunk);
    }
  }

  void cancel(String message, @Nullable Throwable cause) {
    if (!closed && requests != null) {
      requests.cancel(message, cause);
    }
  }
}
