/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Authenticator;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** TLS, mutual TLS, bearer tokens, authorization and per-client stream limits over loopback TCP. */
class SecurityTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();
  @TempDir Path dir;

  /** Returns the caller's principal as a one-row utf8 column, and counts its calls. */
  static final class WhoAmIModel extends ModelService {
    final AtomicInteger calls = new AtomicInteger();
    private final String name;

    WhoAmIModel(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      calls.incrementAndGet();
      VarCharVector who = new VarCharVector("principal", ctx.allocator());
      who.allocateNew();
      for (int i = 0; i < input.getRowCount(); i++) {
        who.setSafe(i, ctx.principal().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      who.setValueCount(input.getRowCount());
      return VectorSchemaRoot.of(who);
    }
  }

  private PredictServer server(Consumer<PredictServer.Builder> configure, ModelService... models)
      throws Exception {
    PredictServer.Builder builder = PredictServer.builder(arrow.allocator()).bindAddress("127.0.0.1");
    for (ModelService model : models) {
      builder.addModel(model);
    }
    configure.accept(builder);
    return builder.build().start();
  }

  private String whoAmI(PredictClient client, String model) {
    try (VectorSchemaRoot input = Batches.builder(arrow.allocator()).int32("x", new int[] {1}).build();
        VectorSchemaRoot output = client.predict(model, input)) {
      return output.getVector("principal").getObject(0).toString();
    }
  }

  /** The status code a one-batch stream to {@code model} ends with. */
  private Status.Code streamCode(PredictClient client, ModelRef model) {
    try (VectorSchemaRoot input = Batches.builder(arrow.allocator()).int32("x", new int[] {1}).build();
        PredictionStream results = client.predictStream(model, java.util.List.of(input).iterator())) {
      while (results.next()) {}
      return Status.Code.OK;
    } catch (PredictException e) {
      return e.code();
    }
  }

  private static void assertCode(Runnable call, Status.Code code, String fragment) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(PredictException.class, e -> assertThat(e.code()).isEqualTo(code))
        .hasMessageContaining(fragment);
  }

  @Test
  void tls_clientTrustingTheCa_connects_othersDoNot() throws Exception {
    TestCertificates.Issued ca = TestCertificates.authority(dir, "test-ca");
    TestCertificates.Issued serverCert = TestCertificates.issue(dir, "server", ca);
    WhoAmIModel model = new WhoAmIModel("who");
    try (PredictServer server =
        server(b -> b.tls(serverCert.certificate, serverCert.privateKey), model)) {
      String target = "localhost:" + server.port();
      try (PredictClient client =
          PredictClient.builder(target, arrow.allocator()).trustedCertificates(ca.certificate).build()) {
        assertThat(whoAmI(client, "who")).isEqualTo("anonymous");
      }
      try (PredictClient plaintext = PredictClient.builder(target, arrow.allocator()).build()) {
        assertCode(() -> whoAmI(plaintext, "who"), Status.Code.UNAVAILABLE, "");
      }
      try (PredictClient untrusting = PredictClient.builder(target, arrow.allocator()).tls().build()) {
        assertCode(() -> whoAmI(untrusting, "who"), Status.Code.UNAVAILABLE, "");
      }
      assertThat(model.calls).hasValue(1);
    }
  }

  @Test
  void mutualTls_principalIsTheClientCertificate_andClientsWithoutOneAreRefused() throws Exception {
    TestCertificates.Issued ca = TestCertificates.authority(dir, "test-ca");
    TestCertificates.Issued serverCert = TestCertificates.issue(dir, "server", ca);
    TestCertificates.Issued clientCert = TestCertificates.issue(dir, "pipeline-7", ca);
    WhoAmIModel model = new WhoAmIModel("who");
    try (PredictServer server =
        server(
            b ->
                b.tls(serverCert.certificate, serverCert.privateKey)
                    .requireClientCertificates(ca.certificate)
                    .authenticator(Authenticator.clientCertificate()),
            model)) {
      String target = "localhost:" + server.port();
      try (PredictClient client =
          PredictClient.builder(target, arrow.allocator())
              .trustedCertificates(ca.certificate)
              .clientCertificate(clientCert.certificate, clientCert.privateKey)
              .build()) {
        assertThat(whoAmI(client, "who")).isEqualTo("CN=pipeline-7");
      }
      try (PredictClient noCertificate =
          PredictClient.builder(target, arrow.allocator()).trustedCertificates(ca.certificate).build()) {
        assertThatThrownBy(() -> whoAmI(noCertificate, "who")).isInstanceOf(PredictException.class);
      }
      assertThat(model.calls).hasValue(1);
    }
  }

  @Test
  void bearerTokens_missingOrWrongTokenIsUnauthenticated_andRunsNoModelCode() throws Exception {
    WhoAmIModel model = new WhoAmIModel("who");
    try (PredictServer server =
        server(b -> b.authenticator(Authenticator.bearerTokens(Map.of("s3cret", "alice"))), model)) {
      String target = "127.0.0.1:" + server.port();
      try (PredictClient noToken = PredictClient.builder(target, arrow.allocator()).build();
          PredictClient wrong =
              PredictClient.builder(target, arrow.allocator()).bearerToken("guess").build();
          PredictClient alice =
              PredictClient.builder(target, arrow.allocator()).bearerToken("s3cret").build()) {
        assertCode(() -> whoAmI(noToken, "who"), Status.Code.UNAUTHENTICATED, "authorization");
        assertCode(() -> whoAmI(wrong, "who"), Status.Code.UNAUTHENTICATED, "not valid");
        assertCode(() -> noToken.listModels(), Status.Code.UNAUTHENTICATED, "authorization");
        assertThat(
                streamCode(noToken, ModelRef.of("who")))
            .isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(model.calls).hasValue(0);
        assertThat(whoAmI(alice, "who")).isEqualTo("alice");
        assertThat(model.calls).hasValue(1);
      }
      // Health stays open for probes by default.
      ManagedChannel channel =
          Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
      try {
        assertThat(
                HealthGrpc.newBlockingStub(channel)
                    .check(HealthCheckRequest.newBuilder().setService("who").build())
                    .getStatus())
            .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void closedHealthChecks_requireTheToken() throws Exception {
    try (PredictServer server =
        server(
            b ->
                b.authenticator(Authenticator.bearerTokens(Map.of("s3cret", "alice")))
                    .openHealthChecks(false),
            new WhoAmIModel("who"))) {
      ManagedChannel channel =
          Grpc.newChannelBuilder("127.0.0.1:" + server.port(), InsecureChannelCredentials.create())
              .build();
      try {
        assertThatThrownBy(
                () -> HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()))
            .isInstanceOfSatisfying(
                StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void authorizer_deniesModelsPerPrincipal_withPermissionDenied() throws Exception {
    WhoAmIModel open = new WhoAmIModel("open");
    WhoAmIModel restricted = new WhoAmIModel("restricted");
    try (PredictServer server =
        server(
            b ->
                b.authenticator(Authenticator.bearerTokens(Map.of("a", "alice", "b", "bob")))
                    .authorizer((principal, m) -> !m.equals("restricted") || principal.equals("alice")),
            open,
            restricted)) {
      String target = "127.0.0.1:" + server.port();
      try (PredictClient alice = PredictClient.builder(target, arrow.allocator()).bearerToken("a").build();
          PredictClient bob = PredictClient.builder(target, arrow.allocator()).bearerToken("b").build()) {
        assertThat(whoAmI(alice, "restricted")).isEqualTo("alice");
        assertThat(whoAmI(bob, "open")).isEqualTo("bob");
        assertCode(
            () -> whoAmI(bob, "restricted"),
            Status.Code.PERMISSION_DENIED,
            "principal 'bob' may not call model 'restricted'");
        assertCode(
            () -> bob.modelInfo(ModelRef.of("restricted")), Status.Code.PERMISSION_DENIED, "bob");
        assertThat(streamCode(bob, ModelRef.of("restricted")))
            .isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(restricted.calls).hasValue(1);
      }
    }
  }

  @Test
  void concurrentStreamsPerClient_overTheLimitIsResourceExhausted() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    BufferAllocator allocator = arrow.allocator();
    try (PredictServer server =
        server(
            b -> b.limits(ServerLimits.builder().maxConcurrentStreamsPerClient(2).build()),
            blocking,
            new TestModels.EchoModel())) {
      try (PredictClient client =
              PredictClient.builder("127.0.0.1:" + server.port(), allocator).build();
          VectorSchemaRoot batch = Batches.builder(allocator).float32("a", new float[] {1}).build()) {
        PredictCall first = client.openStream(ModelRef.of("blocking"));
        PredictCall second = client.openStream(ModelRef.of("blocking"));
        first.write(batch);
        second.write(batch);
        assertThat(blocking.entered.await(5, TimeUnit.SECONDS)).isTrue();
        try (PredictCall third = client.openStream(ModelRef.of("echo"))) {
          // The server refuses the stream when it opens; the write races with that refusal, so
          // the writer may already see it. Either way the status and the limit must come through.
          assertThatThrownBy(
                  () -> {
                    third.write(batch);
                    third.complete();
                    third.results().next();
                  })
              .isInstanceOfSatisfying(
                  PredictException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
              .hasMessageContaining("maxConcurrentStreamsPerClient=2");
        }
        try (PredictCall refused = client.openStream(ModelRef.of("echo"))) {
          // Once the refusal has arrived, a write reports the server's status, not a bare "ended".
          assertThatThrownBy(() -> refused.results().next())
              .isInstanceOfSatisfying(
                  PredictException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
          assertThatThrownBy(() -> refused.write(batch))
              .isInstanceOfSatisfying(
                  PredictException.class,
                  e -> assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED))
              .hasMessageContaining("maxConcurrentStreamsPerClient=2");
        }
        blocking.release.countDown();
        first.complete();
        second.complete();
        while (first.results().next()) {}
        while (second.results().next()) {}
        first.close();
        second.close();
        // Slots are released: a new stream is accepted.
        try (PredictionStream again =
            client.predictStream(ModelRef.of("echo"), java.util.List.of(batch).iterator())) {
          assertThat(again.next()).isTrue();
          assertThat(again.next()).isFalse();
        }
      }
    }
  }
}
