/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.demo;

import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.examples.Progress;
import dev.predictgrpc.examples.onnx.OnnxModel;
import dev.predictgrpc.examples.score.CsvBatchReader;
import dev.predictgrpc.server.PredictServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The first-run demo: serves the bundled iris classifier (a gradient-boosted tree ensemble in
 * ONNX) on a free loopback port, scores the 150 iris flowers with one {@code Predict} call, then
 * streams a large synthetic table through {@code PredictStream}.
 */
public final class Demo {
  static final String MODEL_RESOURCE = "/dev/predictgrpc/examples/iris/iris_gbt.onnx";
  static final String DATA_RESOURCE = "/dev/predictgrpc/examples/iris/iris.csv";
  static final String[] SPECIES = {"setosa", "versicolor", "virginica"};
  private static final int BATCH_ROWS = 65_536;

  private Demo() {}

  /** Runs the demo; {@code --rows N} sets the streamed table's size (default 2,000,000). */
  public static int run(String[] args, PrintStream out) throws Exception {
    long streamRows = 2_000_000;
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--rows")) {
        streamRows = Long.parseLong(args[i + 1]);
      }
    }
    byte[] modelBytes = resource(MODEL_RESOURCE).readAllBytes();
    try (BufferAllocator root = new RootAllocator();
        BufferAllocator serverMemory = root.newChildAllocator("server", 0, Long.MAX_VALUE);
        BufferAllocator clientMemory = root.newChildAllocator("client", 0, Long.MAX_VALUE)) {
      try (PredictServer server =
              PredictServer.builder(serverMemory)
                  .bindAddress("127.0.0.1")
                  .addModel(
                      OnnxModel.builder("iris", modelBytes)
                          .description("gradient-boosted trees on Fisher's iris data (ONNX)")
                          .build())
                  .build()
                  .start();
          PredictClient client =
              PredictClient.builder("127.0.0.1:" + server.port(), clientMemory).build()) {
        out.printf(
            "predict-grpc demo: iris classifier (ONNX, %,d bytes) served over gRPC on 127.0.0.1:%d%n%n",
            modelBytes.length, server.port());
        double[][][] classStats = scoreIris(client, clientMemory, out);
        streamSynthetic(client, clientMemory, classStats, streamRows, out);
        out.printf(
            "  peak Arrow memory: server %.1f MiB, client %.1f MiB%n",
            server.service().peakAllocatedBytes() / 1048576.0,
            clientMemory.getPeakMemoryAllocation() / 1048576.0);
      }
    }
    return 0;
  }

  /** Part 1: one Predict call with the 150 flowers; returns per-class feature means and sds. */
  private static double[][][] scoreIris(PredictClient client, BufferAllocator allocator, PrintStream out)
      throws IOException {
    Schema input = client.modelInfo(ModelRef.of("iris")).inputSchema();
    List<Field> fields = new ArrayList<>(input.getFields());
    fields.add(new Field("species", FieldType.nullable(new ArrowType.Int(32, true)), null));
    BufferedReader csv =
        new BufferedReader(new InputStreamReader(resource(DATA_RESOURCE), StandardCharsets.UTF_8));
    try (CsvBatchReader reader = new CsvBatchReader(csv, "iris.csv", new Schema(fields), allocator, 1000)) {
      VectorSchemaRoot data = reader.next();
      List<FieldVector> features = data.getFieldVectors().subList(0, input.getFields().size());
      IntVector species = (IntVector) data.getVector("species");
      // A view of the feature columns; it shares the reader's vectors, so it is not closed.
      VectorSchemaRoot featureView = new VectorSchemaRoot(features);
      featureView.setRowCount(data.getRowCount());
      long start = System.nanoTime();
      try (VectorSchemaRoot predictions = client.predict(ModelRef.of("iris"), featureView)) {
        double millis = (System.nanoTime() - start) / 1e6;
        BigIntVector label = (BigIntVector) predictions.getVector("label");
        out.printf("1. Scored the %d iris flowers in one Predict call (%.1f ms)%n%n", data.getRowCount(), millis);
        out.println("   sepal_len sepal_wid petal_len petal_wid | predicted    prob | true");
        int correct = 0;
        for (int r = 0; r < data.getRowCount(); r++) {
          int predicted = (int) label.get(r);
          correct += predicted == species.get(r) ? 1 : 0;
          if (r % 10 == 0) {
            float p = ((Float4Vector) predictions.getVector("probabilities_" + predicted)).get(r);
            out.printf(
                Locale.ROOT,
                "   %9.1f %9.1f %9.1f %9.1f | %-10s %5.3f | %-10s %s%n",
                value(features.get(0), r), value(features.get(1), r), value(features.get(2), r),
                value(features.get(3), r), SPECIES[predicted], p, SPECIES[species.get(r)],
                predicted == species.get(r) ? "ok" : "MISS");
          }
        }
        out.printf(
            Locale.ROOT,
            "   (every 10th row shown)%n   accuracy: %d/%d = %.1f%%%n%n",
            correct, data.getRowCount(), 100.0 * correct / data.getRowCount());
      }
      return classStats(features, species, data.getRowCount());
    }
  }

  /** Part 2: streams a synthetic table drawn from the per-class feature distributions. */
  private static void streamSynthetic(
      PredictClient client, BufferAllocator allocator, double[][][] stats, long rows, PrintStream out)
      throws IOException {
    out.printf(
        "2. Streaming %,d synthetic flowers through PredictStream (batches of %,d rows, 1 MiB chunks)%n",
        rows, BATCH_ROWS);
    ConcurrentLinkedQueue<byte[]> truth = new ConcurrentLinkedQueue<>();
    long[] predictedCounts = new long[SPECIES.length];
    long agree = 0;
    long done = 0;
    Progress progress = new Progress(out, rows, 16);
    try (SyntheticIris table = new SyntheticIris(allocator, stats, rows, BATCH_ROWS, truth);
        PredictionStream results = client.predictStream(ModelRef.of("iris"), table)) {
      while (results.next()) {
        BigIntVector label = (BigIntVector) results.root().getVector("label");
        byte[] classes = truth.poll();
        for (int r = 0; r < label.getValueCount(); r++) {
          int predicted = (int) label.get(r);
          predictedCounts[predicted]++;
          agree += predicted == classes[r] ? 1 : 0;
        }
        done += label.getValueCount();
        progress.update(done);
      }
      progress.finish(done);
    }
    double seconds = progress.elapsedSeconds();
    out.printf(
        Locale.ROOT,
        "   done: %,d rows in %.2f s = %,.0f rows/s, %.1f MB/s of features in%n",
        done, seconds, done / seconds, done * 16 / seconds / 1e6);
    out.printf(
        Locale.ROOT,
        "   predicted: %s %.1f%%, %s %.1f%%, %s %.1f%%; agreement with the generating class %.1f%%%n",
        SPECIES[0], 100.0 * predictedCounts[0] / done, SPECIES[1], 100.0 * predictedCounts[1] / done,
        SPECIES[2], 100.0 * predictedCounts[2] / done, 100.0 * agree / done);
  }

  private static double[][][] classStats(List<FieldVector> features, IntVector species, int rows) {
    double[][][] stats = new double[SPECIES.length][features.size()][2];
    int[] counts = new int[SPECIES.length];
    for (int r = 0; r < rows; r++) {
      counts[species.get(r)]++;
      for (int f = 0; f < features.size(); f++) {
        double v = value(features.get(f), r);
        stats[species.get(r)][f][0] += v;
        stats[species.get(r)][f][1] += v * v;
      }
    }
    for (int c = 0; c < SPECIES.length; c++) {
      for (int f = 0; f < features.size(); f++) {
        double mean = stats[c][f][0] / counts[c];
        double variance = stats[c][f][1] / counts[c] - mean * mean;
        stats[c][f][0] = mean;
        stats[c][f][1] = Math.sqrt(Math.max(variance, 1e-6));
      }
    }
    return stats;
  }

  private static float value(FieldVector vector, int row) {
    return ((Float4Vector) vector).get(row);
  }

  private static InputStream resource(String name) throws IOException {
    InputStream in = Demo.class.getResourceAsStream(name);
    if (in == null) {
      throw new IOException("missing bundled resource " + name);
    }
    return in;
  }
}
