/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.StreamHeader;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * A {@link PredictService} mounted on an in-process gRPC server, with a channel to it and the raw
 * generated stubs, as a non-Java client would use them. Every service also hosts a model named
 * {@code scale} (y = 2x) unless the test adds its own, so each test can check that the server still
 * answers a good call after a bad one.
 *
 * <p>{@link #close()} shuts down the channel and server, waits for the calls' Arrow memory to be
 * released (asserting it is), then closes the service.
 */
final class InProcessPredict implements AutoCloseable {
  static final String GOOD_MODEL = "scale";

  final BufferAllocator allocator;
  final PredictService service;
  private final Server server;
  private final ManagedChannel channel;
  private final @Nullable ExecutorService serverExecutor;

  private InProcessPredict(
      BufferAllocator allocator, PredictService service, @Nullable ExecutorService serverExecutor) {
    this.allocator = allocator;
    this.service = service;
    this.serverExecutor = serverExecutor;
    String name = InProcessServerBuilder.generateName();
    try {
      InProcessServerBuilder builder = InProcessServerBuilder.forName(name);
      if (serverExecutor == null) {
        builder.directExecutor();
      } else {
        builder.executor(serverExecutor);
      }
      this.server =
          builder
              .maxInboundMessageSize(service.limits().maxInboundMessageBytes())
              .addService(service)
              .build()
              .start();
    } catch (IOException e) {
      service.close();
      throw new UncheckedIOException(e);
    }
    this.channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  static Builder builder(BufferAllocator allocator) {
    return new Builder(allocator);
  }

  /** A server hosting only the good model, with default limits. */
  static InProcessPredict start(BufferAllocator allocator, ModelService... models) {
    Builder builder = builder(allocator);
    for (ModelService model : models) {
      builder.model(model);
    }
    return builder.start();
  }

  PredictionServiceGrpc.PredictionServiceStub async() {
    return PredictionServiceGrpc.newStub(channel);
  }

  PredictionServiceGrpc.PredictionServiceBlockingStub blocking() {
    return PredictionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** Sends the messages in order, half-closes, and waits for the call to end. */
  Collector<PredictStreamResponse> stream(List<PredictStreamRequest> requests) {
    Collector<PredictStreamResponse> responses = new Collector<>();
    StreamObserver<PredictStreamRequest> out = async().predictStream(responses);
    for (PredictStreamRequest request : requests) {
      out.onNext(request);
    }
    out.onCompleted();
    responses.awaitStatus();
    return responses;
  }

  Collector<PredictStreamResponse> stream(PredictStreamRequest... requests) {
    return stream(List.of(requests));
  }

  /** A header message naming {@code model} (latest version), then the chunks. */
  static List<PredictStreamRequest> messages(String model, List<ByteString> chunks) {
    List<PredictStreamRequest> out = new ArrayList<>();
    out.add(header(model, ""));
    chunks.forEach(c -> out.add(chunk(c)));
    return out;
  }

  static PredictStreamRequest header(String model, String version) {
    return PredictStreamRequest.newBuilder()
        .setHeader(
            StreamHeader.newBuilder()
                .setModel(ModelSpec.newBuilder().setName(model).setVersion(version)))
        .build();
  }

  static PredictStreamRequest chunk(ByteString bytes) {
    return PredictStreamRequest.newBuilder().setChunk(bytes).build();
  }

  static PredictRequest request(String model, String version, ByteString ipc) {
    return PredictRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(model).setVersion(version))
        .setArrowIpc(ipc)
        .build();
  }

  /** The chunk payloads of a stream's responses, after checking the header came first. */
  static List<ByteString> chunksAfterHeader(List<PredictStreamResponse> responses) {
    assertThat(responses).isNotEmpty();
    assertThat(responses.get(0).hasHeader()).as("first response is the header").isTrue();
    List<ByteString> chunks = new ArrayList<>();
    for (PredictStreamResponse r : responses.subList(1, responses.size())) {
      assertThat(r.getKindCase()).isEqualTo(PredictStreamResponse.KindCase.CHUNK);
      chunks.add(r.getChunk());
    }
    return chunks;
  }

  /** Checks that a good streaming call and a good unary call to {@code scale} still succeed. */
  void assertServesGoodCalls() {
    ByteString input = Batches.xStream(allocator, 3, 2);
    Collector<PredictStreamResponse> call = stream(messages(GOOD_MODEL, Batches.split(input, 100)));
    assertThat(call.awaitStatus().getCode())
        .as("status %s", call.awaitStatus())
        .isEqualTo(Status.Code.OK);
    Batches.Decoded streamed = Batches.decode(allocator, chunksAfterHeader(call.messages()));
    assertThat(streamed.rowCounts()).containsExactly(3, 2);
    assertThat(streamed.batches().get(1).column("y")).containsExactly(2000f, 2002f);

    PredictResponse unary = blocking().predict(request(GOOD_MODEL, "", input));
    assertThat(Batches.decode(allocator, unary.getArrowIpc()).rowCounts()).containsExactly(3, 2);
    awaitCallMemoryReleased();
  }

  /** Waits up to 5 s for every call's Arrow memory to be released, then asserts it was. */
  void awaitCallMemoryReleased() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (service.allocatedBytes() != 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    assertThat(service.allocatedBytes()).as("Arrow memory held by calls").isZero();
  }

  @Override
  public void close() throws InterruptedException {
    try {
      channel.shutdown();
      server.shutdown();
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      awaitCallMemoryReleased();
    } finally {
      service.close();
      if (serverExecutor != null) {
        serverExecutor.shutdownNow();
      }
    }
  }

  static final class Builder {
    private final BufferAllocator allocator;
    private final List<ModelService> models = new ArrayList<>();
    private final Map<ModelService, Batching> batching = new IdentityHashMap<>();
    private ServerLimits limits = ServerLimits.defaults();
    private @Nullable Authorizer authorizer;
    private @Nullable OpenTelemetry openTelemetry;
    private boolean threaded;
    private @Nullable Duration drainGracePeriod;

    private Builder(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    Builder model(ModelService model) {
      models.add(model);
      return this;
    }

    Builder model(ModelService model, Batching batching) {
      models.add(model);
      this.batching.put(model, batching);
      return this;
    }

    Builder authorizer(Authorizer authorizer) {
      this.authorizer = authorizer;
      return this;
    }

    Builder openTelemetry(OpenTelemetry openTelemetry) {
      this.openTelemetry = openTelemetry;
      return this;
    }

    /**
     * Runs server calls on a thread pool, as a real server does, instead of on the client's
     * thread. Needed where a test cancels a call whose server code is blocked: with direct
     * executors that code runs inside the client's transport callback, and the in-process
     * transport delivers the cancellation only once it returns.
     */
    Builder threaded() {
      this.threaded = true;
      return this;
    }

    Builder drainGracePeriod(Duration gracePeriod) {
      this.drainGracePeriod = gracePeriod;
      return this;
    }

    Builder limits(ServerLimits limits) {
      this.limits = limits;
      return this;
    }

    InProcessPredict start() {
      PredictService.Builder service = PredictService.builder(allocator).limits(limits);
      if (models.stream().noneMatch(m -> m.name().equals(GOOD_MODEL))) {
        service.addModel(TestModel.scale(GOOD_MODEL));
      }
      for (ModelService model : models) {
        Batching settings = batching.get(model);
        if (settings == null) {
          service.addModel(model);
        } else {
          service.addModel(model, settings);
        }
      }
      if (authorizer != null) {
        service.authorizer(authorizer);
      }
      if (openTelemetry != null) {
        service.openTelemetry(openTelemetry);
      }
      if (drainGracePeriod != null) {
        service.drainGracePeriod(drainGracePeriod);
      }
      return new InProcessPredict(
          allocator, service.build(), threaded ? Executors.newCachedThreadPool() : null);
    }
  }
}
