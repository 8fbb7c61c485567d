/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.GetModelMetadataRequest;
import dev.predictgrpc.api.v1.ListModelsRequest;
import dev.predictgrpc.api.v1.ListModelsResponse;
import dev.predictgrpc.api.v1.ModelMetadata;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.ModelSummary;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.server.Authorizer;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ServerLimits;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The gRPC binding of {@code predictgrpc.v1.PredictionService}. Thread-safe: it holds only
 * immutable configuration; per-call state lives in {@link StreamCall} and local variables.
 */
public final class PredictionServiceImpl extends PredictionServiceGrpc.PredictionServiceImplBase {
  private final ServiceState state;
  private final ModelRegistry registry;
  private final BufferAllocator allocator;
  private final ServerLimits limits;

  /**
   * Creates the binding. It does not take ownership of {@code allocator}, from which each call
   * takes a child allocator that it closes when the call ends. Mount it behind {@link
   * CallIdentity}, which establishes the principal that {@code authorizer} judges.
   */
  public PredictionServiceImpl(
      ModelRegistry registry,
      BufferAllocator allocator,
      ServerLimits limits,
      Authorizer authorizer) {
    this.state = new ServiceState(registry, allocator, limits, new Access(authorizer));
    this.registry = registry;
    this.allocator = allocator;
    this.limits = limits;
  }

  @Override
  public void predict(PredictRequest request, StreamObserver<PredictResponse> responseObserver) {
    String label = request.getModel().getName();
    BufferAllocator callAllocator = null;
    ArrowChunkDecoder decoder = null;
    CallScorer scorer = null;
    PredictResponse response;
    try {
      ModelService model =
          registry.resolve(request.getModel().getName(), request.getModel().getVersion());
      label = model.name() + ":" + model.version();
      state.access.check(model.name());
      callAllocator = CallAllocators.open(allocator, label, limits.maxCallMemoryBytes());
      decoder =
          ArrowChunkDecoder.builder(callAllocator)
              .maxMessageBytes(limits.maxMessageBytes())
              .maxBatchRows(limits.maxBatchRows())
              .build();
      CallContext context =
          new CallContext(
              callAllocator,
              model.name(),
              model.version(),
              request.getParametersMap(),
              Context.current());
      List<ByteString> output = new ArrayList<>();
      scorer = new CallScorer(model, context, limits.maxChunkBytes(), output::add);
      decoder.append(request.getArrowIpc());
      while (decoder.nextBatch()) {
        scorer.score(decoder.root(), decoder.dictionaries());
      }
      decoder.finish();
      scorer.finish();
      response =
          PredictResponse.newBuilder()
              .setModel(ModelSpec.newBuilder().setName(model.name()).setVersion(model.version()))
              // A balanced rope over the chunks: no bytes are copied here.
              .setArrowIpc(ByteString.copyFrom(output))
              .build();
    } catch (Throwable t) {
      long batch = scorer == null ? -1 : scorer.batchesScored();
      responseObserver.onError(StatusMapper.toStatus(t, label, batch).asRuntimeException());
      return;
    } finally {
      if (decoder != null) {
        decoder.close();
      }
      if (callAllocator != null) {
        CallAllocators.close(callAllocator);
      }
    }
    responseObserver.onNext(response);
    responseObserver.onCompleted();
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
      model = registry.resolve(request.getModel().getName(), request.getModel().getVersion());
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
}
