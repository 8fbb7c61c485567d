/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.api.v1.StreamResponseHeader;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.IpcCompression;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ReceivedBytes;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ServerLimits;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * One {@code PredictStream} call on the server: header, then chunks decoded into batches, each
 * scored and its output sent as soon as it is complete.
 *
 * <p>Flow control: auto-request is off and the call asks for one message at a time, and only
 * while the response stream is ready; it also decodes and scores the batches of a chunk only while
 * the response stream is ready, pausing until gRPC says it is again. So the server reads and
 * scores input no faster than the client reads output, and holds at most one input chunk, one
 * batch and its output beyond the transport's own windows, however many small batches a chunk
 * packs and however much bigger than its input a model's output is.
 *
 * <p>Threading: gRPC runs every callback here (messages, half-close, cancel, onReady) one at a
 * time on the call's serializing executor, so the state needs no locks. The model runs on that
 * same thread, inside {@link #onNext}.
 */
final class StreamCall implements StreamObserver<PredictStreamRequest> {
  private final ServerCallStreamObserver<PredictStreamResponse> responses;
  private final ServiceState service;
  private final ServerLimits limits;
  private final Context grpcContext = Context.current();
  private final String client = CallIdentity.client();
  /** True while this call holds one of its client's stream slots. */
  private boolean holdsStreamSlot;

  private @Nullable BufferAllocator allocator;
  private @Nullable ArrowChunkDecoder decoder;
  private @Nullable CallScorer scorer;
  /** The model version this call holds from its header to its end; see ModelCatalog. */
  private @Nullable ServedModel served;
  private String label = "?";
  private boolean done;
  /** A request(1) is owed as soon as the response stream becomes ready. */
  private boolean inputOwed;
  /** Queued input may hold batches to score as soon as the response stream becomes ready. */
  private boolean drainOwed;
  /** The client has half-closed; the call ends once the queued input is drained. */
  private boolean halfClosed;
  /** When the message requested last was asked for, or 0 if none is outstanding. */
  private long requestedAtNanos;
  /** The index of the Arrow IPC message arriving now, or -1 between messages. */
  private long arrivingMessage = -1;
  /** Time spent waiting for the bytes of {@link #arrivingMessage}. */
  private long arrivingWaitNanos;

  private StreamCall(ServerCallStreamObserver<PredictStreamResponse> responses, ServiceState service) {
    this.responses = responses;
    this.service = service;
    this.limits = service.limits;
  }

  /** Sets up flow control for a new call; must run before the gRPC method handler returns. */
  static StreamCall start(
      StreamObserver<PredictStreamResponse> responseObserver, ServiceState service) {
    ServerCallStreamObserver<PredictStreamResponse> responses =
        (ServerCallStreamObserver<PredictStreamResponse>) responseObserver;
    StreamCall call = new StreamCall(responses, service);
    responses.disableAutoRequest();
    responses.setOnReadyHandler(call::onReady);
    responses.setOnCancelHandler(call::onCancel);
    // However the call ends, even closed by gRPC or an interceptor without the handler seeing
    // it, what it holds is released (release() is idempotent).
    responses.setOnCloseHandler(call::release);
    // The slot is taken now, not when the header comes: a client that opens streams and sends
    // nothing must not hold more of them than one that sends headers.
    try {
      service.streams.acquire(call.client);
      call.holdsStreamSlot = true;
    } catch (RuntimeException e) {
      call.fail(e);
      return call;
    }
    responses.request(1);
    return call;
  }

  @Override
  public void onNext(PredictStreamRequest request) {
    try {
      if (done) {
        return; // Messages already in flight when the call failed.
      }
      switch (request.getKindCase()) {
        case HEADER:
          if (scorer != null) {
            throw invalid("a PredictStream call has exactly one header, and it came first");
          }
          open(request.getHeader());
          requestNextMessage();
          break;
        case CHUNK:
          if (scorer == null) {
            throw invalid(
                "the first PredictStream message must be a header naming the model, not a chunk");
          }
          ReceivedBytes received = service.streamRequests.takeBytes(request);
          if (received != null) {
            // Views of the network buffers: the decoder releases them once it has read them.
            decoder.append(received.buffers(), received::release);
          } else {
            decoder.append(request.getChunk());
          }
          checkMessageArrival();
          drain();
          break;
        default:
          throw invalid("a PredictStream message must set header or chunk");
      }
    } catch (Throwable t) {
      fail(t);
    } finally {
      service.streamRequests.discard(request); // Received bytes not handed to the decoder.
    }
  }

  @Override
  public void onCompleted() {
    if (done) {
      return;
    }
    halfClosed = true;
    if (drainOwed) {
      return; // drain() ends the call once the client has read what is queued.
    }
    finish();
  }

  /**
   * Decodes and scores queued input while the client keeps reading output; then asks for the next
   * message, or ends the call if the client has half-closed. If the response stream stops being
   * ready, it pauses and {@link #onReady} resumes it.
   */
  private void drain() throws Exception {
    while (true) {
      if (!responses.isReady()) {
        drainOwed = true;
        return;
      }
      if (!decoder.nextBatch()) {
        break;
      }
      scorer.score(decoder.root(), decoder.dictionaries());
    }
    drainOwed = false;
    if (halfClosed) {
      finish();
    } else {
      requestNextMessage();
    }
  }

  /** Ends the call once all input has been read and scored. */
  private void finish() {
    try {
      if (scorer == null) {
        throw invalid("the stream ended before its header");
      }
      // A client with nothing to score may half-close without sending a single chunk.
      if (decoder.bytesReceived() > 0) {
        decoder.finish();
      }
      scorer.finish();
      done = true;
      responses.onCompleted();
    } catch (Throwable t) {
      fail(t);
    } finally {
      release();
    }
  }

  @Override
  public void onError(Throwable t) {
    // The client cancelled or the transport failed: there is no one left to answer.
    done = true;
    release();
  }

  private void onCancel() {
    done = true;
    release();
  }

  private void onReady() {
    if (done) {
      return;
    }
    if (drainOwed) {
      try {
        drain();
      } catch (Throwable t) {
        fail(t);
      }
    } else if (inputOwed) {
      inputOwed = false;
      request();
    }
  }

  private void open(StreamHeader header) {
    IpcCompression outputCompression = outputCompression(header);
    ModelSpec spec = header.getModel();
    served = service.catalog.acquire(spec.getName(), spec.getVersion());
    ModelService model = served.model;
    label = model.name() + ":" + model.version();
    service.access.check(model.name());
    allocator = service.calls.open(label, client, limits.maxCallMemoryBytes());
    CallContext context =
        new CallContext(
            allocator, model.name(), model.version(), header.getParametersMap(), grpcContext);
    scorer =
        new CallScorer(
            served,
            context,
            limits.maxChunkBytes(),
            service.responseChunks,
            this::sendChunk);
    scorer.compressOutput(outputCompression);
    decoder = service.newDecoder(allocator, scorer);
    responses.onNext(
        PredictStreamResponse.newBuilder()
            .setHeader(
                StreamResponseHeader.newBuilder()
                    .setModel(
                        ModelSpec.newBuilder().setName(model.name()).setVersion(model.version())))
            .build());
  }

  /** The output compression the header asks for; an unknown value is the client's error. */
  private static IpcCompression outputCompression(StreamHeader header) {
    switch (header.getOutputCompression()) {
      case BODY_COMPRESSION_CODEC_UNSPECIFIED:
        return IpcCompression.NONE;
      case BODY_COMPRESSION_CODEC_LZ4_FRAME:
        return IpcCompression.LZ4_FRAME;
      case BODY_COMPRESSION_CODEC_ZSTD:
        return IpcCompression.ZSTD;
      default:
        throw invalid(
            "StreamHeader.output_compression has a value this server does not know ("
                + header.getOutputCompressionValue()
                + "); use BODY_COMPRESSION_CODEC_UNSPECIFIED, _LZ4_FRAME or _ZSTD");
    }
  }

  /** Sends a chunk whose array is lent: it goes back to the pool once gRPC has written it. */
  private void sendChunk(ByteString chunk, Runnable release) {
    PredictStreamResponse message = PredictStreamResponse.newBuilder().setChunk(chunk).build();
    service.streamResponses.sendLent(message, release, () -> responses.onNext(message));
  }

  private void requestNextMessage() {
    if (responses.isReady()) {
      request();
    } else {
      inputOwed = true;
    }
  }

  private void request() {
    requestedAtNanos = System.nanoTime();
    responses.request(1);
  }

  /**
   * Adds the time this chunk was waited for to the Arrow IPC message it belongs to, and fails the
   * call if that message has been arriving for longer than {@code messageArrivalTimeout} of such
   * waiting. Time the server asked for nothing (the client was not reading output) is not counted.
   */
  private void checkMessageArrival() {
    long now = System.nanoTime();
    long waited = requestedAtNanos == 0 ? 0 : now - requestedAtNanos;
    requestedAtNanos = 0;
    if (!decoder.isInsideMessage()) {
      arrivingMessage = -1; // This chunk starts a message, or falls between messages.
      return;
    }
    long index = decoder.messagesDecoded();
    if (index != arrivingMessage) {
      arrivingMessage = index;
      arrivingWaitNanos = 0;
    }
    arrivingWaitNanos += waited;
    if (arrivingWaitNanos > limits.messageArrivalTimeout().toNanos()) {
      throw new PredictException(
          Status.Code.DEADLINE_EXCEEDED,
          "Arrow IPC message "
              + index
              + " of the stream has been arriving for longer than the limit"
              + " messageArrivalTimeout="
              + limits.messageArrivalTimeout()
              + "; send each batch within that time");
    }
  }

  private void fail(Throwable t) {
    if (done) {
      return;
    }
    done = true;
    long batch = scorer == null ? -1 : scorer.batchesScored();
    try {
      responses.onError(StatusMapper.toStatus(t, label, batch).asRuntimeException());
    } finally {
      release();
    }
  }

  private void release() {
    if (holdsStreamSlot) {
      holdsStreamSlot = false;
      service.streams.release(client);
    }
    if (decoder != null) {
      decoder.close();
      decoder = null;
    }
    if (allocator != null) {
      service.calls.close(allocator, client);
      allocator = null;
    }
    if (served != null) {
      served.release(); // Last, once nothing of the call is left: it may close a drained model.
      served = null;
    }
  }

  private static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
