/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.parquet.ParquetFiles;
import dev.predictgrpc.server.PredictServer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;

/**
 * The {@code bench-parquet} command: scores generated Parquet files of 16 float32 columns (100 MB
 * and 1 GB by default) with {@link ParquetFiles#score} against a row-sum model over loopback TCP,
 * and prints per file its size, MB/s, the client allocator's peak Arrow memory and the process's
 * peak RSS, plus the read-only MB/s of the Parquet reader. Files go to {@code --dir} (default the
 * temporary directory) and are deleted afterwards.
 *
 * <p>The server runs in this JVM; each file is scored by a fresh client JVM, so the peaks (its
 * allocator's Arrow memory, and its RSS: heap, Arrow, and Arrow C++'s native buffers of the
 * Parquet reader and writer) are the client's alone, for that file alone.
 */
public final class ParquetBench {
  private static final String RESULT = "RESULT ";

  private ParquetBench() {}

  /**
   * Runs the benchmark. Options: {@code --sizes-mb 100,1000}, {@code --batch-rows 65536}, {@code
   * --dir DIR}.
   *
   * @return the exit status: 0, or 2 for bad arguments
   */
  public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    List<Long> sizes = new ArrayList<>(List.of(100L, 1000L));
    int batchRows = 65_536;
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    for (int i = 0; i < args.length; i++) {
      if (i + 1 >= args.length) {
        err.println("error: " + args[i] + " needs a value");
        return 2;
      }
      switch (args[i]) {
        case "--sizes-mb":
          sizes.clear();
          for (String s : args[++i].split(",")) {
            sizes.add(Long.parseLong(s.trim()));
          }
          break;
        case "--batch-rows":
          batchRows = Integer.parseInt(args[++i]);
          break;
        case "--dir":
          dir = Path.of(args[++i]);
          break;
        default:
          err.println("error: unknown option " + args[i]);
          err.println("usage: bench-parquet [--sizes-mb 100,1000] [--batch-rows 65536] [--dir DIR]");
          return 2;
      }
    }
    out.printf(
        Locale.ROOT,
        "bench-parquet: 16 float32 columns, %,d-row batches, row-sum model over loopback TCP, JDK %s,"
            + " %d CPUs%n%n",
        batchRows,
        Runtime.version(),
        Runtime.getRuntime().availableProcessors());
    out.printf(
        Locale.ROOT,
        "%10s %12s %10s %12s %16s %14s %12s%n",
        "table", "rows", "file", "score MB/s", "client Arrow peak", "peak RSS", "read MB/s");
    try (BufferAllocator serverAllocator = new RootAllocator();
        PredictServer server =
            PredictServer.builder(serverAllocator)
                .bindAddress("127.0.0.1")
                .addModel(new BenchModels.ScoreModel())
                .build()
                .start()) {
      for (long mb : sizes) {
        measure(mb, batchRows, dir, "127.0.0.1:" + server.port(), out);
      }
    }
    return 0;
  }

  private static void measure(long mb, int batchRows, Path dir, String target, PrintStream out)
      throws Exception {
    long batches = Math.max(1, mb * 1_000_000 / BenchTable.inputBytes(batchRows));
    long rows = batches * batchRows;
    Path input = dir.resolve("predictgrpc-bench-" + mb + "mb.parquet");
    Path output = dir.resolve("predictgrpc-bench-" + mb + "mb-scores.parquet");
    try {
      try (BufferAllocator allocator = new RootAllocator();
          BenchTable table = new BenchTable(allocator, batchRows)) {
        // The table's one batch, again and again: a file of any size from one batch.
        Iterator<VectorSchemaRoot> repeated =
            Stream.generate(table::batch).limit(batches).iterator();
        ParquetFiles.write(repeated, BenchTable.INPUT_SCHEMA, input, allocator);
      }
      long fileBytes = Files.size(input);
      // The client in a fresh JVM, so its peak RSS is the client's own, for this file alone.
      String[] result;
      try (ChildJvm client =
          ChildJvm.start(
              "parquet-client",
              ChildJvm.childFlags(List.of()),
              Client.class,
              List.of(target, input.toString(), output.toString(), Integer.toString(batchRows)))) {
        result = client.expect(RESULT, Duration.ofMinutes(30)).split(" ");
      }
      check(Long.parseLong(result[0]) == rows, "scored " + result[0] + " rows of " + rows);
      checkScores(output, batchRows, rows);
      out.printf(
          Locale.ROOT,
          "%8d MB %,12d %7.0f MB %12.0f %13.1f MiB %10.0f MiB %12.0f%n",
          mb,
          rows,
          fileBytes / 1e6,
          fileBytes / 1e6 / Double.parseDouble(result[1]),
          Long.parseLong(result[2]) / 1048576.0,
          Long.parseLong(result[3]) / 1048576.0,
          fileBytes / 1e6 / Double.parseDouble(result[4]));
    } finally {
      Files.deleteIfExists(input);
      Files.deleteIfExists(output);
    }
  }

  /**
   * The client JVM: {@code TARGET INPUT OUTPUT BATCH_ROWS}. Scores the file, then reads it once
   * more without scoring; prints {@code RESULT rows seconds arrowPeak peakRss readSeconds}.
   */
  static final class Client {
    private Client() {}

    public static void main(String[] args) throws Exception {
      ChildJvm.prepareThisJvm();
      Path input = Path.of(args[1]);
      int batchRows = Integer.parseInt(args[3]);
      long rows;
      double seconds;
      long arrowPeak;
      try (BufferAllocator allocator = new RootAllocator();
          PredictClient client = PredictClient.builder(args[0], allocator).build()) {
        long start = System.nanoTime();
        rows = ParquetFiles.score(client, ModelRef.of("score"), input, Path.of(args[2]), allocator, batchRows);
        seconds = (System.nanoTime() - start) / 1e9;
        arrowPeak = allocator.getPeakMemoryAllocation();
      }
      long peakRss = ProcessStats.procStatusBytes("VmHWM");
      double readSeconds;
      try (BufferAllocator allocator = new RootAllocator();
          ArrowReader reader = ParquetFiles.openReader(input, allocator, batchRows)) {
        long start = System.nanoTime();
        while (reader.loadNextBatch()) {
          // Only the decoding is measured.
        }
        readSeconds = (System.nanoTime() - start) / 1e9;
      }
      System.out.printf(
          Locale.ROOT, "%s%d %.3f %d %d %.3f%n", RESULT, rows, seconds, arrowPeak, peakRss, readSeconds);
      System.out.flush();
    }
  }

  /** Checks the row count and the first batch's row sums of the scores file. */
  private static void checkScores(Path output, int batchRows, long rows) throws IOException {
    try (BufferAllocator allocator = new RootAllocator();
        BenchTable table = new BenchTable(allocator, batchRows);
        ArrowReader reader = ParquetFiles.openReader(output, allocator, batchRows)) {
      long read = 0;
      while (reader.loadNextBatch()) {
        Float4Vector score = (Float4Vector) reader.getVectorSchemaRoot().getVector("score");
        if (read == 0) {
          for (int r = 0; r < score.getValueCount(); r += 997) {
            check(score.get(r) == table.rowSum(r), "row " + r + ": score " + score.get(r));
          }
        }
        read += score.getValueCount();
      }
      check(read == rows, "scores file holds " + read + " rows of " + rows);
    }
  }

  private static void check(boolean ok, String message) {
    if (!ok) {
      throw new IllegalStateException("bench-parquet: " + message);
    }
  }
}
