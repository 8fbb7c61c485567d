/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.server.ModelService;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * The frame every unary model call shares ({@code Predict}, the Open Inference Protocol's {@code
 * ModelInfer}): hold the model version, check access, open the call's allocator under the client's
 * share, run the protocol's own work, answer or map the failure to a status, and release all of it
 * in order (the version last: releasing it may close a drained model).
 *
 * <p>One instance per call, used by one thread at a time.
 */
final class UnaryCall {
  /** A protocol's own work for one call: returns the response; anything it throws is mapped. */
  interface Handler<R> {
    R handle(UnaryCall call) throws Exception;
  }

  private final ServedModel served;
  private final CallContext context;
  private final String label;
  private @Nullable CallScorer scorer;

  private UnaryCall(ServedModel served, CallContext context, String label) {
    this.served = served;
    this.context = context;
    this.label = label;
  }

  /**
   * Runs one call of {@code modelName} (and {@code version}, empty for the latest) and answers
   * {@code responses} with what {@code handler} returns, or with the status its failure maps to.
   * Whatever the handler allocates from {@link #allocator()} must be released when it returns.
   */
  static <R> void run(
      ServiceState state,
      String modelName,
      String version,
      Map<String, String> parameters,
      StreamObserver<R> responses,
      Handler<R> handler) {
    String label = modelName;
    String client = CallIdentity.client();
    ServedModel served = null;
    BufferAllocator callAllocator = null;
    UnaryCall call = null;
    R response;
    try {
      served = state.catalog.acquire(modelName, version);
      ModelService model = served.model;
      label = model.name() + ":" + model.version();
      state.access.check(model.name());
      callAllocator = state.calls.open(label, client, state.limits.maxCallMemoryBytes());
      call =
          new UnaryCall(
              served,
              new CallContext(
                  callAllocator, model.name(), model.version(), parameters, Context.current()),
              label);
      response = handler.handle(call);
    } catch (Throwable t) {
      long batch = call == null || call.scorer == null ? -1 : call.scorer.batchesScored();
      responses.onError(StatusMapper.toStatus(t, label, batch).asRuntimeException());
      return;
    } finally {
      if (callAllocator != null) {
        state.calls.close(callAllocator, client);
      }
      if (served != null) {
        served.release(); // Last: it may close a drained model.
      }
    }
    responses.onNext(response);
    responses.onCompleted();
  }

  /** The version answering, held for the call. */
  ServedModel served() {
    return served;
  }

  ModelService model() {
    return served.model;
  }

  /** The model's context: the call's allocator, name, version and parameters. */
  CallContext context() {
    return context;
  }

  /** The call's allocator; closed after the handler returns. */
  BufferAllocator allocator() {
    return context.allocator();
  }

  /** "name:version", as statuses and limits name the model. */
  String label() {
    return label;
  }

  /** Makes failures name the batch {@code scorer} was scoring; returns it. */
  CallScorer track(CallScorer scorer) {
    this.scorer = scorer;
    return scorer;
  }
}
