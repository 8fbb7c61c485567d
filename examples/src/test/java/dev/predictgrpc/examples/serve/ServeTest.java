/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.ModelInfo;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictOptions;
import dev.predictgrpc.client.Prediction;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class ServeTest {
  private static final String IRIS = "/dev/predictgrpc/examples/iris/";

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();
  @TempDir Path dir;

  private Path copy(String resource) throws IOException {
    Path to = dir.resolve(resource);
    try (InputStream in = ServeTest.class.getResourceAsStream(IRIS + resource)) {
      Files.copy(in, to);
    }
    return to;
  }

  private static PrintStream sink(ByteArrayOutputStream bytes) {
    return new PrintStream(bytes, true, StandardCharsets.UTF_8);
  }

  @Test
  void nameColonVersion_servesTwoVersionsOfOneModel_latestByDefault() throws Exception {
    Path logreg = copy("iris_logreg.onnx");
    Path gbt = copy("iris_gbt.onnx");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (Serve.Running running =
            Serve.start(
                new String[] {
                  "--port", "0", "--bind", "127.0.0.1", "iris:1=" + logreg, "iris:2=" + gbt
                },
                sink(out));
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + running.port(), arrow.allocator()).build();
        VectorSchemaRoot input =
            Batches.builder(arrow.allocator())
                .float32("sepal_length", new float[] {5.1f})
                .float32("sepal_width", new float[] {3.5f})
                .float32("petal_length", new float[] {1.4f})
                .float32("petal_width", new float[] {0.2f})
                .build()) {
      assertThat(client.listModels())
          .singleElement()
          .satisfies(
              m -> {
                assertThat(m.name()).isEqualTo("iris");
                assertThat(m.versions()).containsExactly("1", "2");
              });
      ModelInfo first = client.modelInfo(dev.predictgrpc.client.ModelRef.of("iris").withVersion("1"));
      assertThat(first.description()).contains("iris_logreg.onnx");
      try (Prediction latest = client.predict("iris", input, PredictOptions.defaults());
          Prediction pinned =
              client.predict("iris", input, PredictOptions.defaults().withVersion("1"))) {
        assertThat(latest.modelVersion()).isEqualTo("2");
        assertThat(pinned.modelVersion()).isEqualTo("1");
        assertThat(latest.root().getVector("label").getObject(0)).isEqualTo(0L);
        assertThat(pinned.root().getVector("label").getObject(0)).isEqualTo(0L);
      }
    }
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("model iris:1 ", "model iris:2 ");
  }

  @Test
  void sameNameAndVersionTwice_isAUsageErrorThatShowsTheVersionForm() throws IOException {
    Path gbt = copy("iris_gbt.onnx");
    // start(), not run(): a regression must fail here, not block serving until killed.
    assertThatThrownBy(
            () ->
                Serve.start(
                    new String[] {"--port", "0", "iris=" + gbt, "iris=" + gbt},
                    sink(new ByteArrayOutputStream())))
        .isInstanceOf(Serve.UsageException.class)
        .hasMessageContaining("model 'iris' version '1' is given twice")
        .hasMessageContaining("NAME:1=a.onnx NAME:2=b.onnx");
  }

  @Test
  void usage_saysTheDefaultBindAddressAndHowToChangeIt() throws Exception {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Serve.run(new String[] {"--bogus"}, sink(new ByteArrayOutputStream()), sink(err));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("unexpected argument '--bogus'")
        .contains("--bind ADDR", "default 0.0.0.0: every network interface", "127.0.0.1")
        .contains("NAME:V=FILE");
  }

  @Test
  void malformedModelArguments_areUsageErrors() {
    for (String bad : new String[] {"=x.onnx", "iris:=x.onnx", "iris=", ":2=x.onnx"}) {
      assertThatThrownBy(() -> Serve.ModelArg.parse(bad))
          .as(bad)
          .isInstanceOf(Serve.UsageException.class)
          .hasMessageContaining(bad);
    }
    Serve.ModelArg parsed = Serve.ModelArg.parse("iris:2024-01=C:/models/iris.onnx");
    assertThat(parsed.name()).isEqualTo("iris");
    assertThat(parsed.version()).isEqualTo("2024-01");
    assertThat(parsed.file()).isEqualTo(Path.of("C:/models/iris.onnx"));
  }
}
