/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.score;

import dev.predictgrpc.client.ModelInfo;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.client.parquet.ParquetFiles;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.examples.Progress;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * {@code score --target HOST:PORT --model NAME --input FILE --output FILE}: streams a CSV or Arrow
 * file through a remote model and writes the predictions, one output row per input row, in order.
 *
 * <p>Input: {@code .csv} (header line; columns matched to the model's input schema by name),
 * {@code .arrow} (Arrow IPC file), {@code .arrows} (Arrow IPC stream) or {@code .parquet} (a file,
 * or a directory of them such as Spark writes). Output: {@code .arrow}, {@code .csv} or {@code
 * .parquet}. {@code --input-format} and {@code --output-format} override the extension. The input is streamed, never loaded whole; the output is written to a temporary
 * file that is renamed into place only once every row has been scored, so a failed run never
 * leaves a partial file under the output name.
 */
public final class Score {
  private static final List<String> INPUT_FORMATS = List.of("csv", "arrow", "arrows", "parquet");
  private static final List<String> OUTPUT_FORMATS = List.of("arrow", "csv", "parquet");

  private Score() {}

  /** Runs the command; returns the exit status (0 on success, 1 on failure, 2 on bad usage). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        err.println("error: unexpected argument '" + args[i] + "'");
        return usage(err);
      }
      options.put(args[i].substring(2), args[++i]);
    }
    for (String required : new String[] {"target", "model", "input", "output"}) {
      if (!options.containsKey(required)) {
        err.println("error: --" + required + " is required");
        return usage(err);
      }
    }
    Path output = Path.of(options.get("output"));
    int batchRows = Integer.parseInt(options.getOrDefault("batch-rows", "65536"));
    ModelRef model = ModelRef.of(options.get("model")).withVersion(options.getOrDefault("version", ""));
    Path partial = output.resolveSibling(output.getFileName() + ".partial");
    try (BufferAllocator allocator = new RootAllocator();
        Drain drain = () -> awaitReleased(allocator)) {
      long rows;
      try (PredictClient client =
          PredictClient.builder(options.get("target"), allocator)
              .deadline(Duration.ofSeconds(Long.parseLong(options.getOrDefault("deadline-seconds", "3600"))))
              .build()) {
        rows = score(client, model, options, partial, batchRows, allocator, err);
      }
      Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      out.printf(Locale.ROOT, "scored %,d rows with model %s into %s%n", rows, model, output);
      return 0;
    } catch (PredictException e) {
      err.println("error: " + describe(e, options.get("target")));
    } catch (CsvBatchReader.CsvFormatException e) {
      err.println("error: " + e.getMessage());
    } catch (IOException | UncheckedIOException e) {
      err.println("error: " + e.getMessage());
    } catch (RuntimeException e) {
      err.println("error: " + e);
    } finally {
      try {
        Files.deleteIfExists(partial);
      } catch (IOException e) {
        err.println("warning: could not delete " + partial);
      }
    }
    return 1;
  }

  private static long score(
      PredictClient client,
      ModelRef model,
      Map<String, String> options,
      Path partial,
      int batchRows,
      BufferAllocator allocator,
      PrintStream err)
      throws IOException {
    ModelInfo info = client.modelInfo(model); // Fails fast on an unknown model or a dead server.
    Path input = Path.of(options.get("input"));
    String inputFormat = format(options, "input", INPUT_FORMATS);
    String outputFormat = format(options, "output", OUTPUT_FORMATS);
    Progress progress = new Progress(err, -1, 0);
    try (AutoCloseable source = openInput(inputFormat, input, info, model, batchRows, allocator);
        PredictionStream results = stream(client, model, source)) {
      if (outputFormat.equals("parquet")) {
        // Arrow Dataset's writer pulls result batches as they arrive (no per-batch push API).
        long rows = ParquetFiles.write(results, partial, allocator, info.outputSchema());
        progress.finish(rows);
        return rows;
      }
      return writeResults(results, partial, outputFormat, progress, allocator);
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** The format named by {@code --<which>-format}, or else by the file's extension. */
  private static String format(Map<String, String> options, String which, List<String> formats)
      throws IOException {
    String given = options.get(which + "-format");
    String file = options.get(which);
    if (given != null) {
      if (!formats.contains(given)) {
        throw new IOException("--" + which + "-format " + given + " is not one of " + formats);
      }
      return given;
    }
    if (which.equals("input") && Files.isDirectory(Path.of(file))) {
      return "parquet"; // A directory of part files, as Spark and other engines write.
    }
    String name = Path.of(file).getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".feather")) {
      return "arrow";
    }
    String extension = name.substring(name.lastIndexOf('.') + 1);
    if (!formats.contains(extension)) {
      throw new IOException(
          which + " " + file + " must end in ." + String.join(", .", formats)
              + " (or name the format with --" + which + "-format)");
    }
    return extension;
  }

  /** An {@link ArrowReader} or a {@link CsvBatchReader} over the input, owned by the caller. */
  private static AutoCloseable openInput(
      String format, Path input, ModelInfo info, ModelRef model, int batchRows, BufferAllocator allocator)
      throws IOException {
    switch (format) {
      case "csv":
        Schema schema = info.inputSchema();
        if (schema == null) {
          throw new PredictException(
              Status.Code.FAILED_PRECONDITION,
              "model " + model + " declares no input schema, so CSV columns cannot be typed; use an"
                  + " Arrow or Parquet file");
        }
        BufferedReader reader = Files.newBufferedReader(input, StandardCharsets.UTF_8);
        return new CsvBatchReader(reader, input.toString(), schema, allocator, batchRows);
      case "arrow":
        return new ArrowFileReader(FileChannel.open(input, StandardOpenOption.READ), allocator);
      case "arrows":
        return new ArrowStreamReader(Files.newInputStream(input), allocator);
      default:
        return ParquetFiles.openReader(input, allocator, batchRows);
    }
  }

  private static PredictionStream stream(PredictClient client, ModelRef model, AutoCloseable source) {
    return source instanceof CsvBatchReader
        ? client.predictStream(model, (CsvBatchReader) source)
        : client.predictStream(model, (ArrowReader) source);
  }

  private static long writeResults(
      PredictionStream results, Path partial, String format, Progress progress, BufferAllocator allocator)
      throws IOException {
    try (ResultWriter writer = ResultWriter.open(partial, format, allocator)) {
      long rows = 0;
      while (results.next()) {
        writer.write(results.root());
        rows += results.root().getRowCount();
        progress.update(rows);
      }
      progress.finish(rows);
      return rows;
    }
  }

  private static String describe(PredictException e, String target) {
    if (e.code() == Status.Code.UNAVAILABLE) {
      return "cannot reach a predict-grpc server at " + target + " (" + e.getMessage() + ")";
    }
    if (e.code() == Status.Code.UNKNOWN && e.getCause() != null && e.getCause().getMessage() != null) {
      return e.getCause().getMessage();
    }
    return e.getMessage();
  }

  private static int usage(PrintStream err) {
    err.println(
        "usage: score --target HOST:PORT --model NAME"
            + " --input FILE(.csv|.arrow|.arrows|.parquet, or a directory of .parquet)"
            + " --output FILE(.arrow|.csv|.parquet) [--input-format F] [--output-format F]"
            + " [--version V] [--batch-rows 65536] [--deadline-seconds 3600]");
    return 2;
  }

  /** Closes without checked exceptions; runs before the allocator it waits for is closed. */
  private interface Drain extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Waits, at most 2 s, until {@code allocator} holds nothing. Arrow C++ (writing Parquet) drops
   * the last batches it was handed on a thread of its own, a moment after the write returned;
   * closing the allocator before that would report them as a leak and fail a finished run.
   */
  private static void awaitReleased(BufferAllocator allocator) {
    try {
      for (int i = 0; i < 200 && allocator.getAllocatedMemory() > 0; i++) {
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
