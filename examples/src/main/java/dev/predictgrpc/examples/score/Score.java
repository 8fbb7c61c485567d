/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.score;

import dev.predictgrpc.client.ModelInfo;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
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
 * {@code .arrow} (Arrow IPC file) or {@code .arrows} (Arrow IPC stream). Output: {@code .arrow}
 * or {@code .csv}. The input is streamed, never loaded whole; the output is written to a temporary
 * file that is renamed into place only once every row has been scored, so a failed run never
 * leaves a partial file under the output name.
 */
public final class Score {
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
    Path input = Path.of(options.get("input"));
    Path output = Path.of(options.get("output"));
    int batchRows = Integer.parseInt(options.getOrDefault("batch-rows", "65536"));
    ModelRef model = ModelRef.of(options.get("model")).withVersion(options.getOrDefault("version", ""));
    Path partial = output.resolveSibling(output.getFileName() + ".partial");
    try (BufferAllocator allocator = new RootAllocator()) {
      long rows;
      try (PredictClient client =
          PredictClient.builder(options.get("target"), allocator)
              .deadline(Duration.ofSeconds(Long.parseLong(options.getOrDefault("deadline-seconds", "3600"))))
              .build()) {
        rows = score(client, model, input, partial, batchRows, allocator, err);
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
      Path input,
      Path partial,
      int batchRows,
      BufferAllocator allocator,
      PrintStream err)
      throws IOException {
    ModelInfo info = client.modelInfo(model); // Fails fast on an unknown model or a dead server.
    String name = input.getFileName().toString().toLowerCase(Locale.ROOT);
    Progress progress = new Progress(err, -1, 0);
    if (name.endsWith(".csv")) {
      Schema schema = info.inputSchema();
      if (schema == null) {
        throw new PredictException(
            Status.Code.FAILED_PRECONDITION,
            "model " + model + " declares no input schema, so CSV columns cannot be typed; use an"
                + " Arrow file");
      }
      BufferedReader reader = Files.newBufferedReader(input, StandardCharsets.UTF_8);
      try (CsvBatchReader batches = new CsvBatchReader(reader, input.toString(), schema, allocator, batchRows);
          PredictionStream results = client.predictStream(model, batches)) {
        return writeResults(results, partial, progress, allocator);
      }
    }
    try (ArrowReader reader = openArrow(input, allocator);
        PredictionStream results = client.predictStream(model, reader)) {
      return writeResults(results, partial, progress, allocator);
    }
  }

  private static ArrowReader openArrow(Path input, BufferAllocator allocator) throws IOException {
    String name = input.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".arrow") || name.endsWith(".feather")) {
      return new ArrowFileReader(FileChannel.open(input, StandardOpenOption.READ), allocator);
    }
    if (name.endsWith(".arrows")) {
      return new ArrowStreamReader(Files.newInputStream(input), allocator);
    }
    throw new IOException("input " + input + " must end in .csv, .arrow or .arrows");
  }

  private static long writeResults(
      PredictionStream results, Path partial, Progress progress, BufferAllocator allocator)
      throws IOException {
    try (ResultWriter writer = ResultWriter.open(partial, allocator)) {
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
        "usage: score --target HOST:PORT --model NAME --input FILE(.csv|.arrow|.arrows)"
            + " --output FILE(.arrow|.csv) [--version V] [--batch-rows 65536]"
            + " [--deadline-seconds 3600]");
    return 2;
  }
}
