/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.api.v1.BatchingSettings;
import dev.predictgrpc.api.v1.GetModelMetadataRequest;
import dev.predictgrpc.api.v1.GetModelStatisticsRequest;
import dev.predictgrpc.api.v1.GetModelStatisticsResponse;
import dev.predictgrpc.api.v1.Histogram;
import dev.predictgrpc.api.v1.ListModelsRequest;
import dev.predictgrpc.api.v1.ListModelsResponse;
import dev.predictgrpc.api.v1.ModelMetadata;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.ModelStatistics;
import dev.predictgrpc.api.v1.ModelSummary;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Authorizer;
import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelState;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.common.internal.StreamMarshallers;
import dev.predictgrpc.common.internal.ZeroCopyMarshaller;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The gRPC binding of {@code predictgrpc.v1.PredictionService}. Thread-safe: it holds only
 * immutable configuration; per-call state lives in {@link StreamCall} and local variables.
 */
public final class PredictionServiceImpl extends PredictionServiceGrpc.PredictionServiceImplBase {
  private final ServiceState state;
  private final ModelCatalog catalog;
  private final ServerLimits limits;

  /**
   * Creates the binding. It does not take ownership of {@code allocator}, from which each call
   * takes a child allocator that it closes when the call ends, nor of {@code served}. Mount it
   * behind {@link CallIdentity}, which establishes the principal that {@code authorizer} judges.
   */
  public PredictionServiceImpl(
      ModelCatalog catalog,
      BufferAllocator allocator,
      ServerLimits limits,
      Authorizer authorizer) {
    this.state = new ServiceState(catalog, allocator, limits, new Access(authorizer));
    this.catalog = catalog;
    this.limits = limits;
  }

  /**
   * The Open Inference Protocol binding over this service's models, sharing its memory budget,
   * per-client shares, limits and access rules; mount its {@link
   * OpenInferenceServiceImpl#guardedDefinition()} behind the same interceptors as this service.
   */
  public OpenInferenceServiceImpl openInference() {
    return new OpenInferenceServiceImpl(state);
  }

  /**
   * Waits up to {@code timeout} for every call to release its Arrow memory: after the gRPC server
   * has terminated, handlers of cancelled calls may still be unwinding.
   *
   * @return true if every call's allocator is closed
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitCallsReleased(Duration timeout) throws InterruptedException {
    boolean released = state.calls.awaitAllClosed(timeout);
    state.calls.closeIdleShares();
    return released;
  }

  /**
   * Releases what a request message holds when it will never reach this service: one that {@link
   * CallGuard} dropped because it arrived after the guard closed its call. Accepts any message.
   */
  public void discardUndelivered(Object message) {
    if (message instanceof PredictStreamRequest) {
      state.streamRequests.discard((PredictStreamRequest) message);
    }
  }

  /**
   * The generated binding, except that {@code PredictStream} requests are parsed by {@link
   * ZeroCopyMarshaller}: each chunk is a view of the network buffers it arrived in, which {@link
   * StreamCall} releases once the decoder has read it. The wire format is unchanged. Requests that
   * cannot be parsed fail their call cleanly (see {@link RequestParseGuard}). Mount this, not
   * {@link #bindService()}.
   */
  public ServerServiceDefinition zeroCopyDefinition() {
    ServerServiceDefinition generated = super.bindService();
    RequestParseGuard guard = new RequestParseGuard(limits.maxInboundMessageBytes());
    MethodDescriptor<PredictStreamRequest, PredictStreamResponse> zeroCopyStream =
        StreamMarshallers.predictStream(state.streamRequests, state.streamResponses)
            .toBuilder(
                guard.marshaller(state.streamRequests, PredictStreamRequest::getDefaultInstance),
                state.streamResponses)
            .build();
    MethodDescriptor<PredictRequest, PredictResponse> generatedPredict =
        PredictionServiceGrpc.getPredictMethod();
    MethodDescriptor<PredictRequest, PredictResponse> guardedPredict =
        generatedPredict.toBuilder(
                guard.marshaller(
                    generatedPredict.getRequestMarshaller(), PredictRequest::getDefaultInstance),
                generatedPredict.getResponseMarshaller())
            .build();
    ServiceDescriptor generatedService = generated.getServiceDescriptor();
    ServiceDescriptor.Builder service =
        ServiceDescriptor.newBuilder(generatedService.getName())
            .setSchemaDescriptor(generatedService.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      if (method.getMethodDescriptor().getFullMethodName().equals(
          zeroCopyStream.getFullMethodName())) {
        @SuppressWarnings("unchecked") // The generated handler of this very method.
        ServerCallHandler<PredictStreamRequest, PredictStreamResponse> handler =
            (ServerCallHandler<PredictStreamRequest, PredictStreamResponse>)
                method.getServerCallHandler();
        method = ServerMethodDefinition.create(zeroCopyStream, handler);
      } else if (method.getMethodDescriptor().getFullMethodName().equals(
          guardedPredict.getFullMethodName())) {
        @SuppressWarnings("unchecked") // The generated handler of this very method.
        ServerCallHandler<PredictRequest, PredictResponse> handler =
            (ServerCallHandler<PredictRequest, PredictResponse>) method.getServerCallHandler();
        method = ServerMethodDefinition.create(guardedPredict, handler);
      }
      methods.add(method);
      service.addMethod(method.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(service.build());
    methods.forEach(definition::addMethod);
    return ServerInterceptors.intercept(definition.build(), guard.interceptor());
  }

  @Override
  public void predict(PredictRequest request, StreamObserver<PredictResponse> responseObserver) {
    ModelSpec spec = request.getModel();
    UnaryCall.run(
        state,
        spec.getName(),
        spec.getVersion(),
        request.getParametersMap(),
        responseObserver,
        call -> {
          ModelService model = call.model();
          UnaryOutput output = new UnaryOutput(call.label(), limits.maxUnaryResponseBytes());
          CallScorer scorer =
              call.track(
                  new CallScorer(
                      call.served(), call.context(), limits.maxChunkBytes(), output::add));
          try (ArrowChunkDecoder decoder = state.newDecoder(call.allocator(), scorer)) {
            decoder.append(request.getArrowIpc());
            while (decoder.nextBatch()) {
              scorer.score(decoder.root(), decoder.dictionaries());
            }
            decoder.finish();
            scorer.finish();
          }
          return PredictResponse.newBuilder()
              .setModel(ModelSpec.newBuilder().setName(model.name()).setVersion(model.version()))
              .setArrowIpc(output.bytes())
              .build();
        });
  }

  @Override
  public StreamObserver<PredictStreamRequest> predictStream(
      StreamObserver<PredictStreamResponse> responseObserver) {
    return StreamCall.start(responseObserver, state);
  }

  @Override
  public void listModels(
      ListModelsRequest request, StreamObserver<ListModelsResponse> responseObserver) {
    ListModelsResponse.Builder response = ListModelsResponse.newBuilder();
    ModelRegistry registry = catalog.registry(); // One snapshot for the whole answer.
    for (String name : registry.names()) {
      ModelService latest = registry.resolve(name, "");
      response.addModels(
          ModelSummary.newBuilder()
              .setName(name)
              .addAllVersions(registry.versions(name))
              .setDescription(latest.description()));
    }
    responseObserver.onNext(response.build());
    responseObserver.onCompleted();
  }

  @Override
  public void getModelMetadata(
      GetModelMetadataRequest request, StreamObserver<ModelMetadata> responseObserver) {
    ModelService model;
    try {
      model =
          catalog.registry().resolve(request.getModel().getName(), request.getModel().getVersion());
      state.access.check(model.name());
    } catch (RuntimeException e) {
      responseObserver.onError(
          StatusMapper.toStatus(e, request.getModel().getName(), -1).asRuntimeException());
      return;
    }
    responseObserver.onNext(
        ModelMetadata.newBuilder()
            .setModel(ModelSpec.newBuilder().setName(model.name()).setVersion(model.version()))
            .setDescription(model.description())
            .setInputSchema(SchemaDescriptions.ipcBytes(model.inputSchema()))
            .setOutputSchema(SchemaDescriptions.ipcBytes(model.outputSchema()))
            .addAllInputFields(SchemaDescriptions.fields(model.inputSchema()))
            .addAllOutputFields(SchemaDescriptions.fields(model.outputSchema()))
            .build());
    responseObserver.onCompleted();
  }

  @Override
  public void getModelStatistics(
      GetModelStatisticsRequest request,
      StreamObserver<GetModelStatisticsResponse> responseObserver) {
    String name = request.getModel().getName();
    String version = request.getModel().getVersion();
    GetModelStatisticsResponse.Builder response = GetModelStatisticsResponse.newBuilder();
    ModelRegistry registry = catalog.registry();
    try {
      if (name.isEmpty()) {
        // Every version not yet closed, loading and draining ones included.
        for (StatsSnapshot stats : catalog.statistics()) {
          if (state.access.allows(stats.modelName())) {
            response.addModels(toProto(stats));
          }
        }
      } else if (version.isEmpty()) {
        registry.resolve(name, ""); // NOT_FOUND for an unknown name.
        state.access.check(name);
        for (String v : registry.versions(name)) {
          response.addModels(toProto(catalog.statistics(registry.resolve(name, v))));
        }
      } else {
        ModelService model = registry.resolve(name, version);
        state.access.check(model.name());
        response.addModels(toProto(catalog.statistics(model)));
      }
    } catch (PredictException e) {
      responseObserver.onError(StatusMapper.toStatus(e, name, -1).asRuntimeException());
      return;
    }
    responseObserver.onNext(response.build());
    responseObserver.onCompleted();
  }

  private static ModelStatistics toProto(StatsSnapshot stats) {
    ModelStatistics.Builder proto =
        ModelStatistics.newBuilder()
            .setModel(
                ModelSpec.newBuilder()
                    .setName(stats.modelName())
                    .setVersion(stats.modelVersion()))
            .setRequests(stats.requests())
            .setRows(stats.rows())
            .setErrors(stats.errors())
            .setInFlight(Math.max(0, stats.inFlight()))
            .setQueued(Math.max(0, stats.queued()))
            .setBatchSize(toProto(stats.batchSize()))
            .setQueueMicros(toProto(stats.queueMicros()))
            .setComputeMicros(toProto(stats.computeMicros()))
            .setState(toProto(stats.state()));
    Batching batching = stats.batching();
    if (batching != null) {
      proto.setBatching(
          BatchingSettings.newBuilder()
              .setMaxRows(batching.maxRows())
              .setMaxQueueDelayMicros(batching.maxQueueDelay().toNanos() / 1000)
              .setMaxQueuedRequests(batching.maxQueuedRequests()));
    }
    return proto.build();
  }

  /** The wire form of a version's state; shared with the admin service. */
  static dev.predictgrpc.api.v1.ModelState toProto(ModelState state) {
    switch (state) {
      case LOADING:
        return dev.predictgrpc.api.v1.ModelState.MODEL_STATE_LOADING;
      case SERVING:
        return dev.predictgrpc.api.v1.ModelState.MODEL_STATE_SERVING;
      default:
        return dev.predictgrpc.api.v1.ModelState.MODEL_STATE_DRAINING;
    }
  }

  private static Histogram toProto(StatsSnapshot.Histogram histogram) {
    Histogram.Builder proto = Histogram.newBuilder();
    for (long bound : histogram.upperBounds()) {
      proto.addUpperBounds(bound);
    }
    for (long count : histogram.counts()) {
      proto.addCounts(count);
    }
    long count = histogram.count();
    return proto
        .setCount(count)
        .setSum(histogram.sum())
        .setMin(count == 0 ? 0 : histogram.min())
        .setMax(count == 0 ? 0 : histogram.max())
        .build();
  }
}
