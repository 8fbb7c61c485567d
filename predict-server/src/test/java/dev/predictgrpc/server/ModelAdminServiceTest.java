/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.api.v1.ListRepositoryRequest;
import dev.predictgrpc.api.v1.LoadModelRequest;
import dev.predictgrpc.api.v1.LoadModelResponse;
import dev.predictgrpc.api.v1.ModelAdminServiceGrpc;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.api.v1.RepositoryModel;
import dev.predictgrpc.api.v1.UnloadModelRequest;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The admin service over loopback TCP with bearer tokens: off unless enabled, only the admin
 * principal may use it, changes follow the model lifecycle rules, and errors map to the statuses
 * the proto documents.
 */
class ModelAdminServiceTest {
  private static final String OPS_TOKEN = "ops-token";
  private static final String APP_TOKEN = "app-token";

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<TestModel> created = new CopyOnWriteArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private PredictServer server;

  /**
   * A repository in memory: {@code versions} maps "name:version" to what loading it does. A model
   * answers y = 2x, so calls can check which version answered from the response header.
   */
  private final class MemoryLoader implements ModelLoader {
    final Map<String, Consumer<TestModel>> versions = new ConcurrentHashMap<>();

    @Override
    public List<Loadable> loadable() {
      List<Loadable> loadable = new ArrayList<>();
      for (String key : versions.keySet()) {
        String[] parts = key.split(":");
        loadable.add(new Loadable(parts[0], parts[1]));
      }
      return loadable;
    }

    @Override
    public ModelService load(String name, String version) throws IOException {
      Consumer<TestModel> configure = versions.get(name + ":" + version);
      if (configure == null) {
        throw new PredictException(
            Status.Code.NOT_FOUND, "no " + name + ":" + version + " in the repository");
      }
      TestModel model = TestModel.scale(name).version(version);
      configure.accept(model);
      created.add(model);
      return model;
    }
  }

  private PredictServer start(Consumer<PredictServer.Builder> configure) throws IOException {
    PredictServer.Builder builder =
        PredictServer.builder(arrow.allocator()).port(0).bindAddress("127.0.0.1");
    configure.accept(builder);
    server = builder.build().start();
    return server;
  }

  /** A server whose admin service only "ops" may use; "app" may only call models. */
  private PredictServer startWithTokens(ModelLoader loader) throws IOException {
    return start(
        b ->
            b.authenticator(Authenticator.bearerTokens(Map.of(OPS_TOKEN, "ops", APP_TOKEN, "app")))
                .adminService(loader, (principal, model) -> principal.equals("ops")));
  }

  private ManagedChannel channel() {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build();
    channels.add(channel);
    return channel;
  }

  private ModelAdminServiceGrpc.ModelAdminServiceBlockingStub admin(String token) {
    ModelAdminServiceGrpc.ModelAdminServiceBlockingStub stub =
        ModelAdminServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    if (token != null) {
      Metadata headers = new Metadata();
      headers.put(
          Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
      stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    return stub;
  }

  /** The version that answers a Predict call to {@code name} naming no version. */
  private String answeringVersion(String name, String token) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return PredictionServiceGrpc.newBlockingStub(channel())
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .predict(InProcessPredict.request(name, "", Batches.xStream(arrow.allocator(), 2)))
        .getModel()
        .getVersion();
  }

  private static LoadModelRequest load(String name, String version) {
    return LoadModelRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(name).setVersion(version))
        .build();
  }

  private static UnloadModelRequest unload(String name, String version) {
    return UnloadModelRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(name).setVersion(version))
        .build();
  }

  private static List<String> repository(ModelAdminServiceGrpc.ModelAdminServiceBlockingStub s) {
    List<String> lines = new ArrayList<>();
    for (RepositoryModel m :
        s.listRepository(ListRepositoryRequest.getDefaultInstance()).getModelsList()) {
      lines.add(
          m.getModel().getName()
              + ":"
              + m.getModel().getVersion()
              + (m.getInRepository() ? " repo " : " - ")
              + m.getState());
    }
    return lines;
  }

  private static void assertStatus(Runnable call, Status.Code code, String... fragments) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).as(e.toString()).isEqualTo(code);
              if (fragments.length > 0) {
                assertThat(e.getStatus().getDescription()).contains(fragments);
              }
            });
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
    assertThat(created).allSatisfy(m -> assertThat(m.closed).isTrue());
  }

  @Test
  void disabledByDefault_answersUnimplemented() throws IOException {
    start(b -> b.addModel(TestModel.scale("m")));

    assertStatus(
        () -> admin(null).listRepository(ListRepositoryRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED);
    assertStatus(() -> admin(null).loadModel(load("m", "1")), Status.Code.UNIMPLEMENTED);
  }

  @Test
  void authorizedPrincipal_loadsListsReloadsAndUnloads() throws Exception {
    MemoryLoader loader = new MemoryLoader();
    loader.versions.put("m:1", model -> {});
    loader.versions.put("m:2", model -> {});
    startWithTokens(loader);
    var ops = admin(OPS_TOKEN);

    assertThat(repository(ops))
        .containsExactly("m:1 repo MODEL_STATE_UNSPECIFIED", "m:2 repo MODEL_STATE_UNSPECIFIED");

    LoadModelResponse first = ops.loadModel(load("m", "1"));
    assertThat(first.getModel().getVersion()).isEqualTo("1");
    assertThat(first.getReplaced()).isFalse();
    assertThat(answeringVersion("m", APP_TOKEN)).isEqualTo("1");

    // No version: the greatest the repository holds. The default policy serves every version.
    assertThat(ops.loadModel(load("m", "")).getModel().getVersion()).isEqualTo("2");
    assertThat(answeringVersion("m", APP_TOKEN)).isEqualTo("2");
    assertThat(repository(ops))
        .containsExactly("m:1 repo MODEL_STATE_SERVING", "m:2 repo MODEL_STATE_SERVING");

    // Loading a served version reloads it: a new instance replaces the old one, which closes.
    LoadModelResponse again = ops.loadModel(load("m", "1"));
    assertThat(again.getReplaced()).isTrue();
    assertThat(created).hasSize(3);
    assertThat(created.get(0).closed).isTrue();
    assertThat(created.get(2).started).isTrue();

    // A version hosted from elsewhere is listed, not in the repository.
    server.models().add(TestModel.scale("other"));
    assertThat(repository(ops)).contains("other:1 - MODEL_STATE_SERVING");

    // Unloading a name without a version unloads every version of it.
    assertThat(ops.unloadModel(unload("m", "")).getModelsList())
        .extracting(ModelSpec::getVersion)
        .containsExactly("1", "2");
    assertStatus(() -> answeringVersion("m", APP_TOKEN), Status.Code.NOT_FOUND, "'m'");
    // Unloaded versions drain until the calls that answered have released them: soon.
    List<String> expected =
        List.of(
            "m:1 repo MODEL_STATE_UNSPECIFIED",
            "m:2 repo MODEL_STATE_UNSPECIFIED",
            "other:1 - MODEL_STATE_SERVING");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!repository(ops).equals(expected) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(repository(ops)).isEqualTo(expected);
  }

  @Test
  void otherPrincipals_arePermissionDenied_andCallersWithoutAValidTokenUnauthenticated()
      throws IOException {
    MemoryLoader loader = new MemoryLoader();
    loader.versions.put("m:1", model -> {});
    startWithTokens(loader);

    assertStatus(
        () -> admin(APP_TOKEN).loadModel(load("m", "1")),
        Status.Code.PERMISSION_DENIED,
        "principal 'app' may not load model 'm'");
    assertStatus(
        () -> admin(APP_TOKEN).listRepository(ListRepositoryRequest.getDefaultInstance()),
        Status.Code.PERMISSION_DENIED,
        "principal 'app' may not list");
    assertStatus(
        () -> admin(null).loadModel(load("m", "1")),
        Status.Code.UNAUTHENTICATED,
        "no 'authorization: Bearer <token>' header");
    assertStatus(
        () -> admin("wrong").unloadModel(unload("m", "1")),
        Status.Code.UNAUTHENTICATED,
        "not valid");

    assertThat(created).isEmpty();
    assertThat(server.models().list()).isEmpty();
  }

  @Test
  void failures_mapToTheDocumentedStatuses_andLeaveTheServedVersionServing() throws IOException {
    MemoryLoader loader = new MemoryLoader();
    loader.versions.put("m:1", model -> {});
    loader.versions.put(
        "m:2",
        model ->
            model.onStart(
                () -> {
                  throw new IllegalStateException("weights file is truncated" + "!".repeat(2000));
                }));
    startWithTokens(loader);
    var ops = admin(OPS_TOKEN);
    ops.loadModel(load("m", "1"));

    assertStatus(
        () -> ops.loadModel(load("m", "2")),
        Status.Code.FAILED_PRECONDITION,
        "weights file is truncated");
    try {
      ops.loadModel(load("m", "2"));
    } catch (StatusRuntimeException e) {
      // Capped, so that clients never refuse the trailer that carries it.
      assertThat(e.getStatus().getDescription().length()).isLessThan(1000);
    }
    assertThat(answeringVersion("m", APP_TOKEN)).isEqualTo("1");

    assertStatus(() -> ops.loadModel(load("m", "9")), Status.Code.NOT_FOUND, "m:9");
    assertStatus(() -> ops.loadModel(load("nothing", "")), Status.Code.NOT_FOUND, "'nothing'");
    assertStatus(() -> ops.loadModel(load("", "1")), Status.Code.INVALID_ARGUMENT, "no model");
    assertStatus(() -> ops.unloadModel(unload("m", "7")), Status.Code.NOT_FOUND);
    assertStatus(() -> ops.unloadModel(unload("nothing", "")), Status.Code.NOT_FOUND);

    server.models().versionPolicy("m", VersionPolicy.specific("1"));
    loader.versions.put("m:3", model -> {});
    assertStatus(
        () -> ops.loadModel(load("m", "3")), Status.Code.FAILED_PRECONDITION, "version policy");
    assertThat(server.models().list())
        .extracting(v -> v.version() + " " + v.state())
        .containsExactly("1 SERVING");
  }

  @Test
  void enablingWithoutAnAuthenticator_isRefusedUnlessOnLoopback() throws IOException {
    MemoryLoader loader = new MemoryLoader();
    assertThatThrownBy(
            () ->
                PredictServer.builder(arrow.allocator())
                    .bindAddress("0.0.0.0")
                    .adminService(loader, Authorizer.allowAll())
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("authenticator")
        .hasMessageContaining("loopback");

    loader.versions.put("m:1", model -> {});
    start(b -> b.adminService(loader, Authorizer.allowAll()));
    assertThat(admin(null).loadModel(load("m", "1")).getModel().getVersion()).isEqualTo("1");
  }
}
