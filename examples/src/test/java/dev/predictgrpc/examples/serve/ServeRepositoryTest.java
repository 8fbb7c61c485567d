/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.api.v1.ListRepositoryRequest;
import dev.predictgrpc.api.v1.LoadModelRequest;
import dev.predictgrpc.api.v1.ModelAdminServiceGrpc;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.RepositoryModel;
import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictOptions;
import dev.predictgrpc.client.Prediction;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --model-repository}: polling, the admin service and its options, over TCP. */
class ServeRepositoryTest {
  private static final String IRIS = "/dev/predictgrpc/examples/iris/";

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();
  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  private PrintStream sink() {
    return new PrintStream(out, true, StandardCharsets.UTF_8);
  }

  private String printed() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private Path repository() throws IOException {
    return Files.createDirectories(dir.resolve("models"));
  }

  private void addVersion(String name, String version, String resource) throws IOException {
    Path versionDir = Files.createDirectories(dir.resolve("models").resolve(name).resolve(version));
    try (InputStream in = ServeRepositoryTest.class.getResourceAsStream(IRIS + resource)) {
      Files.copy(in, versionDir.resolve(ModelRepository.MODEL_FILE));
    }
  }

  private String answeringVersion(PredictClient client) {
    try (VectorSchemaRoot input =
            Batches.builder(arrow.allocator())
                .float32("sepal_length", new float[] {5.1f})
                .float32("sepal_width", new float[] {3.5f})
                .float32("petal_length", new float[] {1.4f})
                .float32("petal_width", new float[] {0.2f})
                .build();
        Prediction prediction = client.predict("iris", input, PredictOptions.defaults())) {
      return prediction.modelVersion();
    }
  }

  private static ModelAdminServiceGrpc.ModelAdminServiceBlockingStub admin(
      ManagedChannel channel, String token) {
    var stub =
        ModelAdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    if (token == null) {
      return stub;
    }
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static LoadModelRequest load(String name, String version) {
    return LoadModelRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(name).setVersion(version))
        .build();
  }

  @Test
  void modelRepository_servesItsVersions_andPicksUpANewOne() throws Exception {
    addVersion("iris", "1", "iris_logreg.onnx");
    try (Serve.Running running =
            Serve.start(
                new String[] {
                  "--port",
                  "0",
                  "--bind",
                  "127.0.0.1",
                  "--model-repository",
                  repository().toString(),
                  "--poll-interval",
                  "50ms"
                },
                sink());
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + running.port(), arrow.allocator()).build()) {
      assertThat(answeringVersion(client)).isEqualTo("1");
      assertThat(printed()).contains("serving iris:1", "checked for changes every 50 ms");

      addVersion("iris", "2", "iris_gbt.onnx");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!answeringVersion(client).equals("2")) {
        assertThat(System.nanoTime()).as("iris:2 served within 30 s").isLessThan(deadline);
        Thread.sleep(20);
      }
    }
    // Printed once the load returns, maybe just after the first call reached it; closing waited.
    assertThat(printed()).contains("loaded model iris:2");
  }

  @Test
  void admin_withATokenFile_loadsForTheTokenOnly_andPredictionsNeedNoToken() throws Exception {
    addVersion("iris", "1", "iris_logreg.onnx");
    Path tokenFile = Files.writeString(dir.resolve("token"), "s3cret\n");
    try (Serve.Running running =
            Serve.start(
                new String[] {
                  "--port",
                  "0",
                  "--bind",
                  "127.0.0.1",
                  "--model-repository",
                  repository().toString(),
                  "--admin",
                  "--admin-token-file",
                  tokenFile.toString()
                },
                sink());
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + running.port(), arrow.allocator()).build()) {
      ManagedChannel channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", running.port(), InsecureChannelCredentials.create())
              .build();
      try {
        assertThat(answeringVersion(client)).isEqualTo("1");
        assertThat(printed()).contains("changed through the admin service");

        addVersion("iris", "2", "iris_gbt.onnx");
        assertThat(
                admin(channel, "s3cret")
                    .listRepository(ListRepositoryRequest.getDefaultInstance())
                    .getModelsList())
            .extracting(m -> m.getModel().getVersion() + " " + m.getState())
            .containsExactly("1 MODEL_STATE_SERVING", "2 MODEL_STATE_UNSPECIFIED");
        assertThat(answeringVersion(client)).isEqualTo("1"); // Not polled with --admin.

        assertCode(
            () -> admin(channel, null).loadModel(load("iris", "2")), Status.Code.PERMISSION_DENIED);
        assertCode(
            () -> admin(channel, "guess").loadModel(load("iris", "2")),
            Status.Code.UNAUTHENTICATED);
        assertCode(
            () -> admin(channel, "s3cret").loadModel(load("iris", "../../token")),
            Status.Code.INVALID_ARGUMENT);

        assertThat(admin(channel, "s3cret").loadModel(load("iris", "")).getModel().getVersion())
            .isEqualTo("2");
        assertThat(answeringVersion(client)).isEqualTo("2");
        // latest:1 by default, so version 1 drained.
        assertThat(
                admin(channel, "s3cret")
                    .listRepository(ListRepositoryRequest.getDefaultInstance())
                    .getModelsList())
            .filteredOn(RepositoryModel::getInRepository)
            .extracting(m -> m.getModel().getVersion() + " " + m.getState())
            .contains("2 MODEL_STATE_SERVING");
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  private static void assertCode(Runnable call, Status.Code code) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(code));
  }

  @Test
  void optionsThatDoNotGoTogether_areUsageErrors() throws IOException {
    String models = repository().toString();
    String[][] cases = {
      {"--model-repository", models, "--admin"},
      {"--bind", "127.0.0.1", "--model-repository", models, "--admin", "--poll-interval", "1s"},
      {"--model-repository", models, "iris=x.onnx"},
      {"--poll-interval", "1s", "iris=x.onnx"},
      {"--model-repository", models, "--version-policy", "iris=newest"},
      {"--model-repository", models, "--version-policy", "iris=latest:0"},
      {"--model-repository", models, "--poll-interval", "soon"},
    };
    String[] messages = {
      "--admin without --admin-token-file would let anyone",
      "--admin and --poll-interval do not go together",
      "not both",
      "need --model-repository",
      "is not latest:N, all or specific:V1,V2",
      "expected: > 0",
      "not a duration",
    };
    for (int i = 0; i < cases.length; i++) {
      String[] args = cases[i];
      assertThatThrownBy(() -> Serve.start(args, sink()))
          .as(String.join(" ", args))
          .isInstanceOf(Serve.UsageException.class)
          .hasMessageContaining(messages[i]);
    }
  }
}
