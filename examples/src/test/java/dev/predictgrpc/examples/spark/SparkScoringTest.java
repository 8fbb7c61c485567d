/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.client.parquet.ParquetFiles;
import dev.predictgrpc.examples.score.Score;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TimeStampVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark example in Spark local mode ({@code local[2]}) against two server replicas over
 * loopback: a Parquet dataset written by Spark is scored and written back as Parquet, every row
 * checked, with and without a replica dying mid-job. The same Spark-written Parquet (nulls,
 * several row groups, int32/int64/float64/string/INT96 timestamp columns) is read by Arrow Dataset
 * and scored by the {@code score} command. Runs on JDK 17 and 25 alike (with the flags
 * spark-submit passes, set in the examples' surefire argLine).
 */
class SparkScoringTest {
  private static final int ROWS = 3_000;
  private static final ArrowType.Int INT64 = new ArrowType.Int(64, true);
  private static final ArrowType FLOAT64 = new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);

  @TempDir static Path dir;
  private static SparkSession spark;
  private static Path input;
  private static BufferAllocator allocator;
  private final List<PredictServer> servers = new ArrayList<>();

  /** doubled = 2x (null if x is), tag = s + "#" + k (null if s is); counts its batches. */
  static final class TagModel extends ModelService {
    final AtomicLong batches = new AtomicLong();
    private final long sleepMillis;

    TagModel(long sleepMillis) {
      this.sleepMillis = sleepMillis;
    }

    @Override
    public String name() {
      return "tag";
    }

    @Override
    public Schema inputSchema() {
      return new Schema(
          List.of(
              Field.nullable("k", INT64),
              Field.nullable("x", FLOAT64),
              Field.nullable("s", ArrowType.Utf8.INSTANCE)));
    }

    @Override
    public Schema outputSchema() {
      return new Schema(
          List.of(Field.nullable("doubled", FLOAT64), Field.nullable("tag", ArrowType.Utf8.INSTANCE)));
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot in) {
      batches.incrementAndGet();
      if (sleepMillis > 0) {
        try {
          Thread.sleep(sleepMillis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      BigIntVector k = (BigIntVector) in.getVector("k");
      Float8Vector x = (Float8Vector) in.getVector("x");
      VarCharVector s = (VarCharVector) in.getVector("s");
      int rows = in.getRowCount();
      Float8Vector doubled = new Float8Vector("doubled", ctx.allocator());
      VarCharVector tag = new VarCharVector("tag", ctx.allocator());
      try {
        doubled.allocateNew(rows);
        tag.allocateNew(rows);
        for (int i = 0; i < rows; i++) {
          if (!x.isNull(i)) {
            doubled.set(i, 2 * x.get(i));
          }
          if (!s.isNull(i)) {
            tag.setSafe(i, (s.getObject(i) + "#" + k.get(i)).getBytes(StandardCharsets.UTF_8));
          }
        }
        doubled.setValueCount(rows);
        tag.setValueCount(rows);
        return new VectorSchemaRoot(List.<FieldVector>of(doubled, tag));
      } catch (RuntimeException e) {
        doubled.close();
        tag.close();
        throw e;
      }
    }
  }

  @BeforeAll
  static void startSpark() {
    Logger.getLogger("org.apache.spark").setLevel(Level.WARNING);
    Logger.getLogger("org.apache.hadoop").setLevel(Level.WARNING);
    Logger.getLogger("org.sparkproject").setLevel(Level.WARNING);
    Logger.getLogger("org.apache.parquet").setLevel(Level.WARNING);
    spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("SparkScoringTest")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate();
    input = dir.resolve("input");
    // Small row groups (parquet.block.size in bytes), so every file holds several.
    spark
        .range(0, ROWS, 1, 4)
        .selectExpr(
            "id AS k",
            "CASE WHEN id % 7 = 0 THEN NULL ELSE CAST(id AS DOUBLE) * 0.5 END AS x",
            "CASE WHEN id % 5 = 0 THEN NULL ELSE concat('s', id) END AS s",
            "CAST(id AS INT) AS n",
            "timestamp_seconds(id) AS ts")
        .write()
        .option("parquet.block.size", "4096")
        .parquet(input.toString());
    allocator = new RootAllocator();
  }

  @AfterAll
  static void stopSpark() {
    if (spark != null) {
      spark.stop();
      ExecutorClients.closeAll();
      allocator.close(); // Fails on leaked Arrow memory.
    }
  }

  @AfterEach
  void stopServers() {
    servers.forEach(PredictServer::close);
  }

  private String startReplicas(TagModel... models) throws IOException {
    List<String> addresses = new ArrayList<>();
    for (TagModel model : models) {
      PredictServer server =
          PredictServer.builder(allocator)
              .bindAddress("127.0.0.1")
              .addModel(model)
              .shutdownGracePeriod(Duration.ZERO) // close() = the replica dies mid-call
              .build()
              .start();
      servers.add(server);
      addresses.add("127.0.0.1:" + server.port());
    }
    return String.join(",", addresses);
  }

  /** Scores the input with Spark, writes Parquet, and checks every row of what Spark reads back. */
  private void scoreWithSparkAndCheck(String target, String output) {
    int clientsBefore = ExecutorClients.created();
    Dataset<Row> scored =
        SparkScoring.builder(target, "tag")
            .batchRows(100)
            .build()
            .score(spark.read().parquet(input.toString()));
    scored.write().parquet(dir.resolve(output).toString());
    // One client per executor JVM (local mode: this one) for the target, not one per partition.
    assertThat(ExecutorClients.created() - clientsBefore).isEqualTo(1);

    List<Row> rows = spark.read().parquet(dir.resolve(output).toString()).collectAsList();
    assertThat(rows).hasSize(ROWS);
    boolean[] seen = new boolean[ROWS];
    for (Row row : rows) {
      int k = (int) row.getLong(row.fieldIndex("k"));
      assertThat(seen[k]).as("row %d twice", k).isFalse();
      seen[k] = true;
      assertThat(row.getInt(row.fieldIndex("n"))).isEqualTo(k);
      assertThat(row.getTimestamp(row.fieldIndex("ts")).getTime()).isEqualTo(k * 1000L);
      if (k % 7 == 0) {
        assertThat(row.isNullAt(row.fieldIndex("doubled"))).as("doubled %d", k).isTrue();
      } else {
        assertThat(row.getDouble(row.fieldIndex("doubled"))).as("doubled %d", k).isEqualTo((double) k);
      }
      Object tag = row.get(row.fieldIndex("tag"));
      assertThat(tag).as("tag %d", k).isEqualTo(k % 5 == 0 ? null : "s" + k + "#" + k);
    }
  }

  @Test
  void sparkJob_scoresEveryRowOnTwoReplicas_withOneClientPerJvm() throws Exception {
    TagModel a = new TagModel(0);
    TagModel b = new TagModel(0);
    scoreWithSparkAndCheck(startReplicas(a, b), "scored");
    assertThat(a.batches.get()).as("replica a").isPositive();
    assertThat(b.batches.get()).as("replica b").isPositive();
  }

  @Test
  void replicaDiesMidJob_jobStillWritesEveryRowOnce() throws Exception {
    TagModel a = new TagModel(20);
    TagModel b = new TagModel(20);
    String target = startReplicas(a, b);
    AtomicBoolean killed = new AtomicBoolean();
    Thread killer =
        new Thread(
            () -> {
              while (a.batches.get() < 4 && !Thread.currentThread().isInterrupted()) {
                try {
                  Thread.sleep(5);
                } catch (InterruptedException e) {
                  return;
                }
              }
              servers.get(0).close();
              killed.set(true);
            });
    killer.start();
    try {
      scoreWithSparkAndCheck(target, "scored-after-failover");
    } finally {
      killer.interrupt();
      killer.join();
    }
    assertThat(killed).isTrue();
    // 32 batches (4 partitions of 750 rows in batches of 100), two partitions' streams per
    // replica; a died after 4 of its 16, so b scored the rest of a's share too (the streams
    // resumed on b, or Spark retried the tasks there).
    assertThat(a.batches.get()).isLessThan(16);
    assertThat(b.batches.get()).isGreaterThan(16);
  }

  @Test
  void sparkWrittenParquet_readByArrowDataset_withEveryTypeAndNull() throws Exception {
    List<Path> files;
    try (Stream<Path> list = Files.list(input)) {
      files = list.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().toList();
    }
    assertThat(files).hasSize(4);
    try (ParquetFileReader footer =
        ParquetFileReader.open(
            HadoopInputFile.fromPath(new org.apache.hadoop.fs.Path(files.get(0).toUri()), new Configuration()))) {
      assertThat(footer.getRowGroups().size()).as("row groups per file").isGreaterThan(1);
    }
    long k = 0;
    try (BufferAllocator reading = allocator.newChildAllocator("read", 0, Long.MAX_VALUE);
        ArrowReader reader = ParquetFiles.openReader(input, reading, 256)) {
      while (reader.loadNextBatch()) {
        VectorSchemaRoot root = reader.getVectorSchemaRoot();
        for (int i = 0; i < root.getRowCount(); i++, k++) {
          assertThat(((BigIntVector) root.getVector("k")).get(i)).isEqualTo(k);
          assertThat(root.getVector("x").isNull(i)).isEqualTo(k % 7 == 0);
          assertThat(root.getVector("s").getObject(i) == null ? null : root.getVector("s").getObject(i).toString())
              .isEqualTo(k % 5 == 0 ? null : "s" + k);
          assertThat(((IntVector) root.getVector("n")).get(i)).isEqualTo((int) k);
          // Spark writes timestamps as INT96 by default; Arrow reads them as nanoseconds.
          assertThat(((TimeStampVector) root.getVector("ts")).get(i)).isEqualTo(k * 1_000_000_000L);
        }
      }
    }
    assertThat(k).isEqualTo(ROWS);
  }

  @Test
  void scoreCommand_sparkParquetIn_parquetOut_inInputOrder() throws Exception {
    String target = startReplicas(new TagModel(0));
    Path features = dir.resolve("features");
    spark.read().parquet(input.toString()).select("k", "x", "s").write().parquet(features.toString());
    Path out = dir.resolve("scores.parquet");
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        Score.run(
            new String[] {"--target", target, "--model", "tag", "--input", features.toString(),
                "--output", out.toString(), "--batch-rows", "128"},
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(status).as(err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(dir.resolve("scores.parquet.partial")).doesNotExist();
    // Spark packs files into partitions by size, so its part files are not in k order: take the
    // input order from the files themselves.
    List<Long> keys = new ArrayList<>();
    try (BufferAllocator reading = allocator.newChildAllocator("keys", 0, Long.MAX_VALUE);
        ArrowReader reader = ParquetFiles.openReader(features, reading, 1_000)) {
      while (reader.loadNextBatch()) {
        BigIntVector k = (BigIntVector) reader.getVectorSchemaRoot().getVector("k");
        for (int i = 0; i < k.getValueCount(); i++) {
          keys.add(k.get(i));
        }
      }
    }
    assertThat(keys).hasSize(ROWS).doesNotHaveDuplicates();
    // Read back by Spark, another Parquet implementation; row i answers input row i.
    List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
    assertThat(rows).hasSize(ROWS);
    for (int i = 0; i < ROWS; i++) {
      Row row = rows.get(i);
      long k = keys.get(i);
      assertThat(row.schema().fieldNames()).containsExactly("doubled", "tag");
      assertThat(row.isNullAt(0)).isEqualTo(k % 7 == 0);
      if (k % 7 != 0) {
        assertThat(row.getDouble(0)).isEqualTo((double) k);
      }
      assertThat(row.get(1)).as("tag %d", k).isEqualTo(k % 5 == 0 ? null : "s" + k + "#" + k);
    }
  }
}
