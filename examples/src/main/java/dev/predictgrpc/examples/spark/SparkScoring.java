/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.spark;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.client.ModelInfo;
import dev.predictgrpc.client.ModelRef;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;
import org.apache.spark.util.TaskCompletionListener;

/**
 * Scores a Spark {@code Dataset<Row>} on a model served by predict-grpc replicas: returns the
 * input's rows, in their order within each partition, with the model's result columns appended.
 *
 * <pre>{@code
 * Dataset<Row> features = spark.read().parquet("features.parquet");
 * Dataset<Row> scored =
 *     SparkScoring.builder("10.0.0.5:8980,10.0.0.6:8980", "iris").build().score(features);
 * scored.write().parquet("scores.parquet");
 * }</pre>
 *
 * <p>The model must declare its output schema (Spark needs the result columns before the job
 * runs); it is read once, on the driver. If the model declares an input schema, only those
 * columns are sent (they must exist in the input); otherwise every column is. Columns go to Arrow
 * and back with Spark's own conversion ({@code ArrowWriter}, {@code ArrowUtils}, {@code
 * ArrowColumnVector}), so a Spark {@code float} column reaches the model as float32, {@code
 * string} as Utf8, {@code timestamp} as {@code Timestamp(MICROSECOND, session time zone)}.
 *
 * <p>Each partition streams its rows through {@code PredictClient.openStream} in batches of
 * {@link Builder#batchRows} rows, on one client per executor JVM and target (shared by all its
 * tasks: connections and the replicas' balancer are per executor, not per partition). A replica
 * that dies mid-stream is survived by the client's stream resume; a task that fails anyway is
 * retried by Spark. Immutable and serializable; thread-safe.
 */
public final class SparkScoring implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String target;
  private final String model;
  private final String version;
  private final int batchRows;
  private final int inFlightBatches;

  private SparkScoring(Builder builder) {
    this.target = builder.target;
    this.model = builder.model;
    this.version = builder.version;
    this.batchRows = builder.batchRows;
    this.inFlightBatches = builder.inFlightBatches;
  }

  /**
   * Starts a scoring of {@code model} on {@code target}: one {@code host:port}, a gRPC target such
   * as {@code dns:///predict.ml:8980}, or comma-separated {@code host:port} addresses of replicas.
   */
  public static Builder builder(String target, String model) {
    return new Builder(target, model);
  }

  /**
   * The rows of {@code input} with the model's result columns appended (lazily: Spark runs it when
   * an action needs it).
   *
   * @throws IllegalArgumentException if the model declares no output schema, a declared input
   *     column is missing from {@code input}, or a result column has the name of an input column
   * @throws dev.predictgrpc.common.PredictException if the model cannot be looked up
   */
  public Dataset<Row> score(Dataset<Row> input) {
    ModelRef ref = ModelRef.of(model).withVersion(version);
    ModelInfo info = ExecutorClients.get(target).modelInfo(ref);
    Schema output = info.outputSchema();
    if (output == null) {
      throw new IllegalArgumentException(
          "model " + ref + " declares no output schema; Spark needs the result columns before the job runs");
    }
    StructType inputSchema = input.schema();
    List<String> inputNames = Arrays.asList(inputSchema.fieldNames());
    Schema declared = info.inputSchema();
    List<String> features = new ArrayList<>();
    if (declared == null) {
      features.addAll(inputNames);
    } else {
      for (Field field : declared.getFields()) {
        if (!inputNames.contains(field.getName())) {
          throw new IllegalArgumentException(
              "model " + ref + " needs column '" + field.getName() + "', which the dataset lacks (its columns: "
                  + inputNames + ")");
        }
        features.add(field.getName());
      }
    }
    int[] featureColumns = features.stream().mapToInt(inputSchema::fieldIndex).toArray();
    StructField[] featureFields = new StructField[featureColumns.length];
    for (int f = 0; f < featureColumns.length; f++) {
      featureFields[f] = inputSchema.fields()[featureColumns[f]];
    }
    StructType featureSchema = new StructType(featureFields);
    StructType resultSchema = ArrowUtils.fromArrowSchema(output);
    StructType outputSchema = inputSchema;
    for (StructField field : resultSchema.fields()) {
      if (inputNames.contains(field.name())) {
        throw new IllegalArgumentException(
            "the model's result column '" + field.name() + "' has the name of an input column");
      }
      outputSchema = outputSchema.add(field);
    }
    String timeZone = input.sparkSession().conf().get("spark.sql.session.timeZone");
    return input.mapPartitions(
        new ScorePartitions(this, featureColumns, featureSchema, resultSchema, timeZone),
        Encoders.row(outputSchema));
  }

  /** What each task runs: a {@link PartitionScorer} closed when the task completes. */
  private static final class ScorePartitions implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    private final SparkScoring scoring;
    private final int[] featureColumns;
    private final StructType featureSchema;
    private final StructType resultSchema;
    private final String timeZone;

    ScorePartitions(
        SparkScoring scoring,
        int[] featureColumns,
        StructType featureSchema,
        StructType resultSchema,
        String timeZone) {
      this.scoring = scoring;
      this.featureColumns = featureColumns;
      this.featureSchema = featureSchema;
      this.resultSchema = resultSchema;
      this.timeZone = timeZone;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
      TaskContext task = TaskContext.get();
      String name =
          task == null
              ? "spark-partition"
              : "spark-partition-" + task.partitionId() + "-attempt-" + task.attemptNumber();
      PartitionScorer scorer =
          new PartitionScorer(
              rows,
              ExecutorClients.get(scoring.target),
              ExecutorClients.allocator(scoring.target),
              ModelRef.of(scoring.model).withVersion(scoring.version),
              featureColumns,
              featureSchema,
              ArrowUtils.toArrowSchema(featureSchema, timeZone, true, false),
              resultSchema,
              scoring.batchRows,
              scoring.inFlightBatches,
              name);
      if (task != null) {
        task.addTaskCompletionListener((TaskCompletionListener) context -> scorer.close());
      }
      return scorer;
    }
  }

  /** Settings of a {@link SparkScoring}. Not thread-safe. */
  public static final class Builder {
    private final String target;
    private final String model;
    private String version = "";
    private int batchRows = 65_536;
    private int inFlightBatches = 4;

    private Builder(String target, String model) {
      this.target = requireNonNull(target, "target");
      this.model = requireNonNull(model, "model");
    }

    /** The model version; default {@code ""}, the latest. */
    public Builder version(String version) {
      this.version = requireNonNull(version, "version");
      return this;
    }

    /** Rows per Arrow batch sent; default 65,536. */
    public Builder batchRows(int rows) {
      if (rows <= 0) {
        throw new IllegalArgumentException("batchRows: " + rows + " (expected: > 0)");
      }
      this.batchRows = rows;
      return this;
    }

    /**
     * Batches a partition keeps between converting its rows and reading their results; default
     * 4. Bounds the memory per task (these batches' rows and Arrow data) and the pipelining.
     */
    public Builder inFlightBatches(int batches) {
      if (batches <= 0) {
        throw new IllegalArgumentException("inFlightBatches: " + batches + " (expected: > 0)");
      }
      this.inFlightBatches = batches;
      return this;
    }

    /** The scoring. */
    public SparkScoring build() {
      return new SparkScoring(this);
    }
  }
}
