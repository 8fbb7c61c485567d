/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictOptions;
import dev.predictgrpc.client.Prediction;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelVersion;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.server.VersionPolicy;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelRepository} against a real service and the bundled ONNX models: each test changes the
 * directory and calls {@code poll()} itself, so nothing depends on timing.
 */
class ModelRepositoryTest {
  private static final String IRIS = "/dev/predictgrpc/examples/iris/";

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();
  @TempDir Path root;

  private final List<String> events = new ArrayList<>();

  /** What served right after each unload. */
  private final List<List<String>> servingWhenUnloaded = new ArrayList<>();

  private PredictService service;
  private Server server;
  private ManagedChannel channel;
  private PredictClient client;
  private ModelRepository repository;

  /** Records what the repository reports, one line per event. */
  private final ModelRepository.Listener recorder =
      new ModelRepository.Listener() {
        @Override
        public void loaded(String name, String version, boolean replaced) {
          events.add((replaced ? "reloaded " : "loaded ") + name + ":" + version);
        }

        @Override
        public void unloaded(String name, String version) {
          events.add("unloaded " + name + ":" + version);
          servingWhenUnloaded.add(
              listed().stream().filter(line -> line.endsWith(" SERVING")).toList());
        }

        @Override
        public void failed(String name, String version, String reason) {
          events.add("failed " + name + ":" + version);
        }

        @Override
        public void scanFailed(String reason) {
          events.add("scan failed");
        }
      };

  @BeforeEach
  void start() throws IOException {
    service =
        PredictService.builder(arrow.allocator()).drainGracePeriod(Duration.ofSeconds(5)).build();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    client = PredictClient.create(channel, arrow.allocator());
    repository = repository(ModelRepository.builder(root));
  }

  private ModelRepository repository(ModelRepository.Builder builder) {
    ModelRepository built = builder.listener(recorder).build();
    built.attach(service.models());
    return built;
  }

  @AfterEach
  void stop() throws InterruptedException {
    repository.close();
    client.close();
    channel.shutdownNow();
    server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    service.close();
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = ModelRepositoryTest.class.getResourceAsStream(IRIS + name)) {
      return in.readAllBytes();
    }
  }

  private Path write(String name, String version, byte[] bytes) throws IOException {
    Path dir = Files.createDirectories(root.resolve(name).resolve(version));
    return Files.write(dir.resolve(ModelRepository.MODEL_FILE), bytes);
  }

  private static void deleteVersion(Path versionDir) throws IOException {
    Files.delete(versionDir.resolve(ModelRepository.MODEL_FILE));
    Files.delete(versionDir);
  }

  /** The version that answers a request naming none, and its class probabilities for one row. */
  private String answer(float[] probabilities) {
    try (VectorSchemaRoot input =
            Batches.builder(arrow.allocator())
                .float32("sepal_length", new float[] {6.0f})
                .float32("sepal_width", new float[] {2.7f})
                .float32("petal_length", new float[] {5.1f})
                .float32("petal_width", new float[] {1.6f})
                .build();
        Prediction prediction = client.predict("iris", input, PredictOptions.defaults())) {
      for (int c = 0; c < probabilities.length; c++) {
        probabilities[c] =
            ((Float4Vector) prediction.root().getVector("probabilities_" + c)).get(0);
      }
      return prediction.modelVersion();
    }
  }

  private String servedVersion() {
    return answer(new float[3]);
  }

  /** Polls {@code condition} for up to 30 s: the machine may be slow and shared. */
  private static void awaitUntil(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition not met within 30 s").isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  private List<String> listed() {
    List<String> listed = new ArrayList<>();
    for (ModelVersion version : service.models().list()) {
      listed.add(version.name() + ":" + version.version() + " " + version.state());
    }
    return listed;
  }

  @Test
  void loadAll_servesWhatIsThere_atOnce() throws IOException {
    write("iris", "1", resource("iris_logreg.onnx"));
    write("iris-gbt", "7", resource("iris_gbt.onnx"));

    repository.loadAll();

    assertThat(events).containsExactly("loaded iris:1", "loaded iris-gbt:7");
    assertThat(servedVersion()).isEqualTo("1");
    assertThat(listed()).containsExactly("iris:1 SERVING", "iris-gbt:7 SERVING");
  }

  @Test
  void newVersion_isLoadedOnceItsFileIsUnchangedForAPoll_andTheOldOneDrains() throws Exception {
    write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();

    write("iris", "2", resource("iris_gbt.onnx"));
    repository.poll(); // First sight: maybe still being copied.
    assertThat(servedVersion()).isEqualTo("1");
    repository.poll();

    assertThat(events).containsExactly("loaded iris:1", "loaded iris:2");
    assertThat(servedVersion()).isEqualTo("2");
    // latest(1) by default: version 1 stays on disk but no longer serves.
    assertThat(service.models().list()).extracting(ModelVersion::version).containsExactly("2");
    repository.poll();
    assertThat(events).hasSize(2);
  }

  @Test
  void halfCopiedFile_isNotLoadedWhileItGrows() throws IOException {
    byte[] gbt = resource("iris_gbt.onnx");
    Path file = write("iris", "1", Arrays.copyOf(gbt, 4000));
    repository.poll();
    Files.write(file, Arrays.copyOfRange(gbt, 4000, 9000), StandardOpenOption.APPEND);
    repository.poll();
    Files.write(file, Arrays.copyOfRange(gbt, 9000, gbt.length), StandardOpenOption.APPEND);
    repository.poll();
    assertThat(events).isEmpty();
    assertThat(service.models().list()).isEmpty();

    repository.poll(); // Unchanged since the last poll: complete.

    assertThat(events).containsExactly("loaded iris:1");
    assertThat(servedVersion()).isEqualTo("1");
  }

  @Test
  void removedVersionDirectory_isUnloadedAfterTwoPolls_andDrains() throws Exception {
    write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();
    deleteVersion(root.resolve("iris").resolve("1"));

    repository.poll(); // One poll's absence is tolerated (a file deleted and copied anew).
    assertThat(servedVersion()).isEqualTo("1");
    repository.poll();

    assertThat(events).containsExactly("loaded iris:1", "unloaded iris:1");
    assertThatThrownBy(this::servedVersion)
        .isInstanceOfSatisfying(
            PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND));
    // No call is in flight, so the version closes as soon as the last one has released it.
    awaitUntil(() -> service.models().list().isEmpty());
  }

  @Test
  void deletingTheNewestVersion_bringsThePreviousOneBack() throws Exception {
    write("iris", "1", resource("iris_logreg.onnx"));
    write("iris", "2", resource("iris_gbt.onnx"));
    repository.loadAll();
    assertThat(servedVersion()).isEqualTo("2");

    deleteVersion(root.resolve("iris").resolve("2"));
    repository.poll();
    repository.poll();

    // Version 1 was loaded before version 2 went, so calls never met a name without a version.
    assertThat(events).containsExactly("loaded iris:2", "loaded iris:1", "unloaded iris:2");
    assertThat(servingWhenUnloaded).containsExactly(List.of("iris:1 SERVING"));
    assertThat(servedVersion()).isEqualTo("1");
    // The name's own policy again: adding version 3 drains version 1.
    write("iris", "3", resource("iris_gbt.onnx"));
    repository.poll();
    repository.poll();
    assertThat(listed()).containsExactly("iris:3 SERVING");
  }

  @Test
  void changedFile_isReloadedInPlace_withTheNewModelAnswering() throws Exception {
    Path file = write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();
    float[] before = new float[3];
    answer(before);

    Files.write(file, resource("iris_gbt.onnx"));
    repository.poll();
    repository.poll();

    assertThat(events).containsExactly("loaded iris:1", "reloaded iris:1");
    float[] after = new float[3];
    assertThat(answer(after)).isEqualTo("1");
    assertThat(after).isNotEqualTo(before); // Gradient-boosted trees, not the logistic regression.
    assertThat(service.statistics("iris", "1").requests()).isEqualTo(1); // A fresh version.
  }

  @Test
  void fileRewrittenWithTheSameBytes_isNotReloaded() throws Exception {
    Path file = write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();

    Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 60_000));
    repository.poll();
    repository.poll();

    assertThat(events).containsExactly("loaded iris:1");
  }

  @Test
  void corruptFile_overAServedVersion_keepsItServing_andIsReportedOnce() throws Exception {
    Path file = write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();
    float[] before = new float[3];
    answer(before);

    Files.write(file, "not an ONNX model".getBytes(StandardCharsets.UTF_8));
    for (int i = 0; i < 5; i++) {
      repository.poll();
    }

    assertThat(events).containsExactly("loaded iris:1", "failed iris:1");
    float[] after = new float[3];
    assertThat(answer(after)).isEqualTo("1");
    assertThat(after).isEqualTo(before);
    assertThat(listed()).containsExactly("iris:1 SERVING");

    // A good file again: tried again, since it changed, and served.
    Files.write(file, resource("iris_gbt.onnx"));
    repository.poll();
    repository.poll();
    assertThat(events).containsExactly("loaded iris:1", "failed iris:1", "reloaded iris:1");
  }

  @Test
  void corruptNewVersion_leavesThePreviousOneServing_andIsReportedOnce() throws Exception {
    write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();

    byte[] truncated = Arrays.copyOf(resource("iris_gbt.onnx"), 3000);
    write("iris", "2", truncated);
    for (int i = 0; i < 5; i++) {
      repository.poll();
    }

    assertThat(events).containsExactly("loaded iris:1", "failed iris:2");
    assertThat(servedVersion()).isEqualTo("1");
    assertThat(listed()).containsExactly("iris:1 SERVING");
  }

  @Test
  void versionPolicyAll_servesEveryVersion() throws Exception {
    repository.close();
    repository =
        repository(ModelRepository.builder(root).versionPolicy("iris", VersionPolicy.all()));
    write("iris", "1", resource("iris_logreg.onnx"));
    write("iris", "2", resource("iris_gbt.onnx"));

    repository.loadAll();

    assertThat(listed()).containsExactly("iris:1 SERVING", "iris:2 SERVING");
  }

  @Test
  void loader_createsTheNamedVersion_andRefusesNamesOutsideTheRepository() throws Exception {
    write("iris", "3", resource("iris_logreg.onnx"));
    Files.writeString(root.resolve("secret"), "not a model");

    assertThat(repository.loadable()).containsExactly(new ModelRepository.Loadable("iris", "3"));
    ModelService model = repository.load("iris", "3");
    try {
      assertThat(model.name()).isEqualTo("iris");
      assertThat(model.version()).isEqualTo("3");
    } finally {
      model.close(); // Created, never started.
    }
    for (String[] bad : new String[][] {{"..", "secret"}, {"iris", "../../secret"}, {"", "1"}}) {
      assertThatThrownBy(() -> repository.load(bad[0], bad[1]))
          .isInstanceOfSatisfying(
              PredictException.class,
              e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
    assertThatThrownBy(() -> repository.load("iris", "4"))
        .isInstanceOfSatisfying(
            PredictException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void unreadableRepository_isReportedOnce_andServingGoesOn() throws Exception {
    Path models = Files.createDirectories(root.resolve("models"));
    write("iris", "1", resource("iris_logreg.onnx"));
    Files.move(root.resolve("iris"), models.resolve("iris"));
    repository.close();
    repository = repository(ModelRepository.builder(models));
    repository.loadAll();
    Files.move(models, root.resolve("elsewhere"));

    for (int i = 0; i < 3; i++) {
      repository.poll();
    }

    assertThat(events).containsExactly("loaded iris:1", "scan failed");
    assertThat(servedVersion()).isEqualTo("1"); // An unreadable directory unloads nothing.
    assertThatThrownBy(repository::loadable)
        .isInstanceOfSatisfying(
            PredictException.class,
            e -> assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION));
  }

  @Test
  void versionsServedFromElsewhere_areLeftAlone() throws Exception {
    write("iris", "1", resource("iris_logreg.onnx"));
    repository.loadAll();
    service
        .models()
        .add(
            dev.predictgrpc.examples.onnx.OnnxModel.builder("other", resource("iris_gbt.onnx"))
                .build());

    repository.poll();
    repository.poll();

    assertThat(listed()).containsExactly("iris:1 SERVING", "other:1 SERVING");
    assertThat(events).containsExactly("loaded iris:1");
  }
}
