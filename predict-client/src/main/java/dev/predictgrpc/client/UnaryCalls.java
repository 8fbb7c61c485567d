/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.GetModelMetadataRequest;
import dev.predictgrpc.api.v1.GetModelStatisticsRequest;
import dev.predictgrpc.api.v1.GetModelStatisticsResponse;
import dev.predictgrpc.api.v1.ListModelsRequest;
import dev.predictgrpc.api.v1.ListModelsResponse;
import dev.predictgrpc.api.v1.ModelMetadata;
import dev.predictgrpc.api.v1.ModelSummary;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.client.internal.Statuses;
import dev.predictgrpc.common.PredictException;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * The unary RPCs of {@link PredictClient}: builds each request, makes the call, decodes the
 * response and turns every failure into a {@link PredictException}.
 *
 * <p>Thread-safe and stateless apart from the channel and allocator it borrows from its client; it
 * closes neither. Results are allocated from that allocator and owned by the caller.
 */
final class UnaryCalls {
  private final Channel channel;
  private final BufferAllocator allocator;

  UnaryCalls(Channel channel, BufferAllocator allocator) {
    this.channel = channel;
    this.allocator = allocator;
  }

  /**
   * Scores {@code input} in one request and waits. The caller retains ownership of {@code input};
   * ownership of the returned prediction passes to the caller, who must close it.
   */
  Prediction predict(ModelRef model, VectorSchemaRoot input, CallOptions options) {
    PredictRequest request = request(model, input);
    try {
      PredictResponse response =
          ClientCalls.blockingUnaryCall(
              channel, PredictionServiceGrpc.getPredictMethod(), options, request);
      return decode(response);
    } catch (RuntimeException e) {
      throw Statuses.toPredictException(e);
    }
  }

  /**
   * Scores {@code input} without blocking; it is serialized before this method returns. Cancelling
   * the future cancels the call. Ownership of what the future completes with passes to the caller.
   *
   * @param convert turns the prediction into the result the caller wants (the prediction itself,
   *     or its root), on gRPC's callback thread
   * @param discard releases a converted result that nobody will receive (the caller cancelled)
   */
  <T> CompletableFuture<T> predictAsync(
      ModelRef model,
      VectorSchemaRoot input,
      CallOptions options,
      Function<Prediction, T> convert,
      Consumer<T> discard) {
    PredictRequest request = request(model, input);
    ClientCall<PredictRequest, PredictResponse> call =
        channel.newCall(PredictionServiceGrpc.getPredictMethod(), options);
    CompletableFuture<T> result = new CompletableFuture<>();
    ClientCalls.asyncUnaryCall(
        call,
        request,
        new StreamObserver<PredictResponse>() {
          @Override
          public void onNext(PredictResponse response) {
            try {
              T value = convert.apply(decode(response));
              if (!result.complete(value)) {
                discard.accept(value); // The caller cancelled meanwhile: nobody will close it.
              }
            } catch (RuntimeException e) {
              result.completeExceptionally(Statuses.toPredictException(e));
            }
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(Statuses.toPredictException(t));
          }

          @Override
          public void onCompleted() {}
        });
    result.whenComplete(
        (root, error) -> {
          if (result.isCancelled()) {
            call.cancel("cancelled by the caller", null);
          }
        });
    return result;
  }

  /** Every model the server hosts, without schemas. */
  List<ModelInfo> listModels(CallOptions options) {
    try {
      ListModelsResponse response =
          ClientCalls.blockingUnaryCall(
              channel,
              PredictionServiceGrpc.getListModelsMethod(),
              options,
              ListModelsRequest.getDefaultInstance());
      List<ModelInfo> models = new ArrayList<>(response.getModelsCount());
      for (ModelSummary summary : response.getModelsList()) {
        models.add(
            new ModelInfo(
                summary.getName(),
                summary.getVersionsList(),
                summary.getDescription(),
                null,
                null));
      }
      return models;
    } catch (RuntimeException e) {
      throw Statuses.toPredictException(e);
    }
  }

  /** One model version with its declared schemas. */
  ModelInfo modelInfo(ModelRef model, CallOptions options) {
    try {
      ModelMetadata metadata =
          ClientCalls.blockingUnaryCall(
              channel,
              PredictionServiceGrpc.getGetModelMetadataMethod(),
              options,
              GetModelMetadataRequest.newBuilder().setModel(model.toSpec()).build());
      return new ModelInfo(
          metadata.getModel().getName(),
          List.of(metadata.getModel().getVersion()),
          metadata.getDescription(),
          schemaOrNull(metadata.getInputSchema()),
          schemaOrNull(metadata.getOutputSchema()));
    } catch (RuntimeException e) {
      throw Statuses.toPredictException(e);
    }
  }

  /**
   * Statistics of every model version the server hosts (and the caller may call), or, for a
   * non-null {@code model}, of its one named version or of every version when it names none.
   */
  List<ModelStats> statistics(@Nullable ModelRef model, CallOptions options) {
    GetModelStatisticsRequest.Builder request = GetModelStatisticsRequest.newBuilder();
    if (model != null) {
      request.setModel(model.toSpec());
    }
    try {
      GetModelStatisticsResponse response =
          ClientCalls.blockingUnaryCall(
              channel,
              PredictionServiceGrpc.getGetModelStatisticsMethod(),
              options,
              request.build());
      List<ModelStats> result = new ArrayList<>(response.getModelsCount());
      response.getModelsList().forEach(m -> result.add(ModelStats.of(m)));
      return List.copyOf(result);
    } catch (RuntimeException e) {
      throw Statuses.toPredictException(e);
    }
  }

  private static PredictRequest request(ModelRef model, VectorSchemaRoot input) {
    requireNonNull(model, "model");
    requireNonNull(input, "input");
    return PredictRequest.newBuilder()
        .setModel(model.toSpec())
        .putAllParameters(model.parameters())
        .setArrowIpc(ArrowChunkEncoder.encodeStream(input, null))
        .build();
  }

  /** The response's one batch and who answered. Ownership passes to the caller. */
  private Prediction decode(PredictResponse response) {
    VectorSchemaRoot root = decodeSingleBatch(response.getArrowIpc());
    return new Prediction(response.getModel().getName(), response.getModel().getVersion(), root);
  }

  private VectorSchemaRoot decodeSingleBatch(ByteString ipc) {
    try (ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(allocator).build()) {
      decoder.append(ipc);
      if (!decoder.nextBatch()) {
        throw new PredictException(Status.Code.INTERNAL, "the server's response holds no batch");
      }
      return decoder.takeBatch(allocator);
    }
  }

  /** The schema in {@code ipc}, or null if the model declares none (an empty field). */
  private static @Nullable Schema schemaOrNull(ByteString ipc) {
    if (ipc.isEmpty()) {
      return null;
    }
    try {
      return MessageSerializer.deserializeSchema(
          new ReadChannel(Channels.newChannel(new ByteArrayInputStream(ipc.toByteArray()))));
    } catch (IOException | RuntimeException e) {
      throw new PredictException(Status.Code.INTERNAL, "the server sent an invalid schema", e);
    }
  }
}
