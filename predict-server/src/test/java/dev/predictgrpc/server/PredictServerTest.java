/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.chunksAfterHeader;
import static dev.predictgrpc.server.InProcessPredict.header;
import static dev.predictgrpc.server.InProcessPredict.messages;
import static dev.predictgrpc.server.InProcessPredict.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** PredictServer over real loopback TCP: lifecycle, health, reflection and interceptors. */
class PredictServerTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  private PredictServer.Builder builder(ModelService... models) {
    PredictServer.Builder builder =
        PredictServer.builder(allocator()).port(0).bindAddress("127.0.0.1");
    for (ModelService model : models) {
      builder.addModel(model);
    }
    return builder;
  }

  private static ManagedChannel channelTo(PredictServer server) {
    return Grpc.newChannelBuilderForAddress(
            "127.0.0.1", server.port(), InsecureChannelCredentials.create())
        .build();
  }

  private static void shutdown(ManagedChannel channel) throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static ServingStatus check(ManagedChannel channel, String service) {
    HealthCheckResponse response =
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService(service).build());
    return response.getStatus();
  }

  private void assertAllReleased() {
    assertThat(allocator().getChildAllocators()).as("allocators left open").isEmpty();
    assertThat(allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void startOnPort0_bindsAFreePortAndServesBothRpcs() throws Exception {
    TestModel model = TestModel.scale("scale");
    try (PredictServer server = builder(model).build().start()) {
      assertThat(server.port()).isPositive();
      ManagedChannel channel = channelTo(server);
      try {
        ByteString input = Batches.xStream(allocator(), 3, 2);
        PredictResponse unary =
            PredictionServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .predict(request("scale", "", input));
        assertThat(Batches.decode(allocator(), unary.getArrowIpc()).rowCounts())
            .containsExactly(3, 2);

        Collector<PredictStreamResponse> call = new Collector<>();
        StreamObserver<PredictStreamRequest> out =
            PredictionServiceGrpc.newStub(channel).predictStream(call);
        for (PredictStreamRequest r : messages("scale", Batches.split(input, 10))) {
          out.onNext(r);
        }
        out.onCompleted();
        assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
        assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
            .containsExactly(3, 2);
      } finally {
        shutdown(channel);
      }
    }
    assertThat(model.closed).isTrue();
    assertAllReleased();
  }

  @Test
  void health_servingForServerServiceAndEachModel_notServingOnceShutdownBegins() throws Exception {
    PredictServer server =
        builder(TestModel.scale("scale"), TestModel.scale("iris")).build().start();
    ManagedChannel channel = channelTo(server);
    try {
      for (String service : List.of("", PredictionServiceGrpc.SERVICE_NAME, "scale", "iris")) {
        assertThat(check(channel, service))
            .as("health of '%s'", service)
            .isEqualTo(ServingStatus.SERVING);
      }
      Status unknown = WireAssertions.statusOf(() -> check(channel, "no-such-model"));
      assertThat(unknown.getCode()).isEqualTo(Status.Code.NOT_FOUND);

      // A watcher sees the change as it happens: load balancers drain the server.
      Collector<HealthCheckResponse> watch = new Collector<>();
      HealthGrpc.newStub(channel)
          .watch(HealthCheckRequest.newBuilder().setService("").build(), watch);
      watch.awaitFirstMessage();
      assertThat(watch.messages().get(0).getStatus()).isEqualTo(ServingStatus.SERVING);

      server.shutdown();

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (watch.messages().size() < 2 && !watch.isDone() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(watch.messages())
          .extracting(HealthCheckResponse::getStatus)
          .containsExactly(ServingStatus.SERVING, ServingStatus.NOT_SERVING);
      // New calls after shutdown() either see NOT_SERVING or are refused.
      for (String service : List.of("", PredictionServiceGrpc.SERVICE_NAME, "iris")) {
        try {
          assertThat(check(channel, service)).isEqualTo(ServingStatus.NOT_SERVING);
        } catch (StatusRuntimeException e) {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        }
      }
    } finally {
      shutdown(channel); // ends the watch, the one call still open
      server.close();
    }
    assertAllReleased();
  }

  @Test
  void reflection_listsThePredictionService() throws Exception {
    try (PredictServer server = builder(TestModel.scale("scale")).build().start()) {
      ManagedChannel channel = channelTo(server);
      try {
        Collector<ServerReflectionResponse> responses = new Collector<>();
        StreamObserver<ServerReflectionRequest> out =
            ServerReflectionGrpc.newStub(channel).serverReflectionInfo(responses);
        out.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        out.onCompleted();
        assertThat(responses.awaitStatus().getCode()).isEqualTo(Status.Code.OK);

        assertThat(responses.messages()).hasSize(1);
        List<String> services =
            responses.messages().get(0).getListServicesResponse().getServiceList().stream()
                .map(ServiceResponse::getName)
                .toList();
        assertThat(services).contains("predictgrpc.v1.PredictionService", "grpc.health.v1.Health");
      } finally {
        shutdown(channel);
      }
    }
    assertAllReleased();
  }

  @Test
  @SuppressWarnings("deprecation") // v1alpha is deprecated; older tools still use only it.
  void reflectionV1alpha_isServedToo_forOlderTools() throws Exception {
    try (PredictServer server = builder(TestModel.scale("scale")).build().start()) {
      ManagedChannel channel = channelTo(server);
      try {
        Collector<io.grpc.reflection.v1alpha.ServerReflectionResponse> responses =
            new Collector<>();
        StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> out =
            io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel)
                .serverReflectionInfo(responses);
        out.onNext(
            io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder()
                .setListServices("")
                .build());
        out.onCompleted();
        assertThat(responses.awaitStatus().getCode()).isEqualTo(Status.Code.OK);

        List<String> services =
            responses.messages().get(0).getListServicesResponse().getServiceList().stream()
                .map(io.grpc.reflection.v1alpha.ServiceResponse::getName)
                .toList();
        assertThat(services).contains("predictgrpc.v1.PredictionService");
      } finally {
        shutdown(channel);
      }
    }
    assertAllReleased();
  }

  @Test
  void close_returnsPromptlyWithAConnectedClient_andReleasesEverything() throws Exception {
    TestModel model = TestModel.scale("scale");
    PredictServer server = builder(model).build().start();
    ManagedChannel channel = channelTo(server);
    try {
      PredictionServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .predict(request("scale", "", Batches.xStream(allocator(), 5)));

      long start = System.nanoTime();
      server.close(); // the idle connection stays open on the client side
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    } finally {
      shutdown(channel);
    }
    assertThat(model.closed).isTrue();
    assertThat(server.service().allocatedBytes()).isZero();
    assertAllReleased();
    server.close(); // idempotent
  }

  @Test
  void close_cancelsCallsStillOpenAfterTheGracePeriod_andReleasesTheirMemory() throws Exception {
    PredictServer server =
        builder(TestModel.scale("scale"))
            .shutdownGracePeriod(Duration.ofMillis(200))
            .build()
            .start();
    ManagedChannel channel = channelTo(server);
    try {
      ByteString input = Batches.xStream(allocator(), 2, 5000);
      Collector<PredictStreamResponse> call = new Collector<>();
      StreamObserver<PredictStreamRequest> out =
          PredictionServiceGrpc.newStub(channel).predictStream(call);
      out.onNext(header("scale", ""));
      out.onNext(InProcessPredict.chunk(input.substring(0, input.size() - 500)));
      call.awaitFirstMessage();
      // The server now holds a partly received batch; the client never finishes the call.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (server.service().allocatedBytes() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(server.service().allocatedBytes()).isPositive();

      long start = System.nanoTime();
      server.close();
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));

      Status status = call.awaitStatus();
      assertThat(status.getCode()).isIn(Status.Code.CANCELLED, Status.Code.UNAVAILABLE);
    } finally {
      shutdown(channel);
      server.close();
    }
    assertAllReleased();
  }

  @Test
  void interceptor_runsAroundThePredictionServiceOnly() throws Exception {
    Metadata.Key<String> token = Metadata.Key.of("x-token", Metadata.ASCII_STRING_MARSHALLER);
    ServerInterceptor auth =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            if (!"open-sesame".equals(headers.get(token))) {
              call.close(
                  Status.UNAUTHENTICATED.withDescription("x-token required"), new Metadata());
              return new ServerCall.Listener<>() {};
            }
            return next.startCall(call, headers);
          }
        };
    try (PredictServer server = builder(TestModel.scale("scale")).intercept(auth).build().start()) {
      ManagedChannel channel = channelTo(server);
      try {
        PredictionServiceGrpc.PredictionServiceBlockingStub stub =
            PredictionServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        ByteString input = Batches.xStream(allocator(), 1);
        Status denied = WireAssertions.statusOf(() -> stub.predict(request("scale", "", input)));
        assertThat(denied.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

        Metadata headers = new Metadata();
        headers.put(token, "open-sesame");
        PredictResponse allowed =
            stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .predict(request("scale", "", input));
        assertThat(Batches.decode(allocator(), allowed.getArrowIpc()).rowCounts())
            .containsExactly(1);
        // Health stays reachable without credentials, for load balancers.
        assertThat(check(channel, "")).isEqualTo(ServingStatus.SERVING);
      } finally {
        shutdown(channel);
      }
    }
    assertAllReleased();
  }

  @Test
  void modelStartFails_buildThrowsIllegalStateAndClosesModelsThatStarted() {
    TestModel first = TestModel.scale("a-first");
    TestModel broken =
        TestModel.scale("b-broken")
            .onStart(
                () -> {
                  throw new IOException("weights not found");
                });
    TestModel never = TestModel.scale("c-never");

    assertThatThrownBy(() -> builder(first, broken, never).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("b-broken");

    assertThat(first.started).isTrue();
    assertThat(first.closed).isTrue();
    assertThat(broken.started).isFalse();
    assertThat(never.started).isFalse();
    assertAllReleased();
  }

  @Test
  void sameNameAndVersionTwice_buildThrowsIllegalArgument() {
    TestModel one = TestModel.scale("twin").version("3");
    TestModel two = TestModel.scale("twin").version("3");

    assertThatThrownBy(() -> builder(one, two).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("twin")
        .hasMessageContaining("'3'");

    assertThat(one.started).isFalse();
    assertThat(two.started).isFalse();
    assertAllReleased();
  }

  @Test
  void portInUse_startThrowsIOException_andReleasesModelsAndMemory() throws Exception {
    TestModel model = TestModel.scale("scale");
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      PredictServer.Builder builder =
          PredictServer.builder(allocator())
              .port(taken.getLocalPort())
              .bindAddress("127.0.0.1")
              .addModel(model);
      // The documented try-with-resources idiom never gets a server to close if start() fails.
      assertThatThrownBy(
              () -> {
                try (PredictServer server = builder.build().start()) {
                  server.awaitTermination(Duration.ZERO);
                }
              })
          .isInstanceOf(IOException.class);
    }
    assertThat(model.closed).as("model closed after a failed start").isTrue();
    assertAllReleased();
  }
}
