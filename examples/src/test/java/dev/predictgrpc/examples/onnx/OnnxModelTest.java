/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class OnnxModelTest {
  static final String IRIS = "/dev/predictgrpc/examples/iris/";

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private PredictService service;
  private Server server;
  private ManagedChannel channel;
  private PredictClient client;

  static byte[] resource(String name) throws IOException {
    try (InputStream in = OnnxModelTest.class.getResourceAsStream(IRIS + name)) {
      return in.readAllBytes();
    }
  }

  /** The bundled iris rows: 4 feature arrays and the labels. */
  static float[][] irisFeatures(int[] labels) throws IOException {
    String[] lines = new String(resource("iris.csv"), StandardCharsets.UTF_8).split("\n");
    float[][] columns = new float[4][lines.length - 1];
    for (int r = 1; r < lines.length; r++) {
      String[] cells = lines[r].split(",");
      for (int c = 0; c < 4; c++) {
        columns[c][r - 1] = Float.parseFloat(cells[c]);
      }
      labels[r - 1] = Integer.parseInt(cells[4].trim());
    }
    return columns;
  }

  private void serve(OnnxModel... models) throws IOException {
    PredictService.Builder builder = PredictService.builder(arrow.allocator());
    for (OnnxModel model : models) {
      builder.addModel(model);
    }
    service = builder.build();
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
    client = PredictClient.create(channel, arrow.allocator());
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (client != null) {
      client.close();
      channel.shutdownNow();
      server.shutdownNow().awaitTermination();
    }
    if (service != null) {
      service.close();
    }
  }

  private VectorSchemaRoot irisBatch(float[][] f) {
    return Batches.builder(arrow.allocator())
        .float32("sepal_length", f[0])
        .float32("sepal_width", f[1])
        .float32("petal_length", f[2])
        .float32("petal_width", f[3])
        .build();
  }

  @Test
  void schemasComeFromTheModelAndItsFeatureNames() throws IOException {
    serve(OnnxModel.builder("iris", resource("iris_gbt.onnx")).build());
    var info = client.modelInfo(ModelRef.of("iris"));
    assertThat(info.inputSchema().getFields())
        .extracting(Field::getName)
        .containsExactly("sepal_length", "sepal_width", "petal_length", "petal_width");
    assertThat(info.inputSchema().getFields()).allSatisfy(f -> assertThat(f.isNullable()).isFalse());
    assertThat(info.outputSchema().getFields())
        .extracting(f -> f.getName() + ":" + f.getType())
        .containsExactly(
            "label:Int(64, true)",
            "probabilities_0:FloatingPoint(SINGLE)",
            "probabilities_1:FloatingPoint(SINGLE)",
            "probabilities_2:FloatingPoint(SINGLE)");
  }

  @Test
  void bundledModels_classifyTheIrisData() throws IOException {
    serve(
        OnnxModel.builder("gbt", resource("iris_gbt.onnx")).build(),
        OnnxModel.builder("logreg", resource("iris_logreg.onnx")).build());
    int[] labels = new int[150];
    float[][] features = irisFeatures(labels);
    for (String model : List.of("gbt", "logreg")) {
      try (VectorSchemaRoot input = irisBatch(features);
          VectorSchemaRoot output = client.predict(model, input)) {
        BigIntVector label = (BigIntVector) output.getVector("label");
        int correct = 0;
        for (int r = 0; r < 150; r++) {
          correct += label.get(r) == labels[r] ? 1 : 0;
          float p0 = ((Float4Vector) output.getVector("probabilities_0")).get(r);
          float p1 = ((Float4Vector) output.getVector("probabilities_1")).get(r);
          float p2 = ((Float4Vector) output.getVector("probabilities_2")).get(r);
          assertThat(p0 + p1 + p2).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));
        }
        // The training accuracies the generator script printed: 1.0 and 0.9733.
        assertThat(correct).as(model).isEqualTo(model.equals("gbt") ? 150 : 146);
      }
    }
  }

  @Test
  void streamsBatchesAndZeroRowBatches() throws IOException {
    serve(OnnxModel.builder("iris", resource("iris_gbt.onnx")).build());
    int[] labels = new int[150];
    float[][] f = irisFeatures(labels);
    List<VectorSchemaRoot> batches = new ArrayList<>();
    for (int start = 0; start < 150; start += 40) {
      int end = Math.min(150, start + 40);
      float[][] slice = new float[4][];
      for (int c = 0; c < 4; c++) {
        slice[c] = java.util.Arrays.copyOfRange(f[c], start, end);
      }
      batches.add(irisBatch(slice));
    }
    batches.add(irisBatch(new float[4][0]));
    try (PredictionStream results = client.predictStream(ModelRef.of("iris"), batches.iterator())) {
      int row = 0;
      int seen = 0;
      while (results.next()) {
        BigIntVector label = (BigIntVector) results.root().getVector("label");
        for (int r = 0; r < results.root().getRowCount(); r++) {
          assertThat(label.get(r)).isEqualTo(labels[row++]);
        }
        seen++;
      }
      assertThat(seen).isEqualTo(batches.size());
      assertThat(row).isEqualTo(150);
    } finally {
      batches.forEach(VectorSchemaRoot::close);
    }
  }

  @Test
  void featureNamesOverride_mustMatchTheTensorWidth() throws IOException {
    OnnxModel wrong =
        OnnxModel.builder("iris", resource("iris_gbt.onnx"))
            .featureNames("features", List.of("a", "b"))
            .build();
    assertThatThrownBy(() -> PredictService.builder(arrow.allocator()).addModel(wrong).build())
        .isInstanceOf(IllegalStateException.class)
        .hasRootCauseMessage(
            "ONNX tensor 'features' has 4 features but 2 names were given: [a, b]");
  }
}
