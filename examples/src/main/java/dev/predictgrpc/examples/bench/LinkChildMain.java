/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.IpcCompression;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictCall;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The two JVMs of the rate-limited link section, both started inside one network namespace by
 * {@link LinkBench}: {@code LinkChildMain server} serves the {@code link-score} model over
 * predict-grpc and Flight DoExchange and prints {@code PORT <predict> <flight>}; {@code
 * LinkChildMain client <batchRows>} builds the tables, prints {@code READY}, and runs commands from
 * stdin: {@code run <transport> <codec> <table> <batches> <port>} (prints {@code DONE rows=..
 * seconds=..}) and {@code ratio <table> <codec>} (prints {@code RATIO r}). Both answer {@code
 * stats} with a {@link ProcessStats} line and exit when stdin ends.
 *
 * <p>A command-line entry point only; reads its commands on the main thread, one at a time.
 */
public final class LinkChildMain {
  static final String MODEL = "link-score";

  private LinkChildMain() {}

  public static void main(String[] args) throws Exception {
    ChildJvm.prepareThisJvm();
    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, UTF_8));
    try (BufferAllocator allocator = new RootAllocator()) {
      if (args[0].equals("server")) {
        serve(allocator, commands);
      } else {
        client(allocator, Integer.parseInt(args[1]), commands);
      }
    }
    System.exit(0);
  }

  // ---------------------------------------------------------------- server

  private static void serve(BufferAllocator allocator, BufferedReader commands) throws Exception {
    try (PredictServer predict =
            PredictServer.builder(allocator)
                .bindAddress("127.0.0.1")
                .addModel(new ScoreModel())
                .shutdownGracePeriod(Duration.ofSeconds(2))
                .build()
                .start();
        FlightServer flight =
            FlightServer.builder(
                    allocator, Location.forGrpcInsecure("127.0.0.1", 0), new FlightScore(allocator))
                .build()
                .start()) {
      System.out.println("PORT " + predict.port() + " " + flight.getPort());
      System.out.flush();
      for (String line = commands.readLine(); line != null; line = commands.readLine()) {
        if (line.equals("stats")) {
          System.out.println(ProcessStats.sample(allocator).toLine());
          System.out.flush();
        }
      }
    }
  }

  /** One float64 per row, the sum of its floating-point columns; any input schema. */
  static final class ScoreModel extends ModelService {
    @Override
    public String name() {
      return MODEL;
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      VectorSchemaRoot output = VectorSchemaRoot.of(LinkTable.score(input, ctx.allocator()));
      output.setRowCount(input.getRowCount());
      return output; // the library closes it after sending
    }
  }

  /** The same model over DoExchange, written as Flight's examples do. */
  static final class FlightScore extends NoOpFlightProducer {
    private final BufferAllocator allocator;

    FlightScore(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    @Override
    public void doExchange(CallContext context, FlightStream reader, ServerStreamListener writer) {
      try (VectorSchemaRoot output =
          VectorSchemaRoot.create(new Schema(List.of(LinkTable.SCORE)), allocator)) {
        writer.start(output);
        while (reader.next()) {
          VectorSchemaRoot input = reader.getRoot();
          try (VectorSchemaRoot scored = VectorSchemaRoot.of(LinkTable.score(input, allocator))) {
            scored.setRowCount(input.getRowCount());
            try (ArrowRecordBatch batch = new VectorUnloader(scored).getRecordBatch()) {
              new VectorLoader(output).load(batch);
            }
          }
          writer.putNext(); // copies the batch into gRPC buffers before it returns
        }
        writer.completed();
      } catch (RuntimeException e) {
        writer.error(
            CallStatus.INTERNAL.withCause(e).withDescription(e.toString()).toRuntimeException());
      }
    }
  }

  // ---------------------------------------------------------------- client

  private static void client(BufferAllocator allocator, int batchRows, BufferedReader commands)
      throws Exception {
    ExecutorService readers = Executors.newSingleThreadExecutor();
    try (LinkTable realistic = LinkTable.create("realistic", allocator, batchRows);
        LinkTable random = LinkTable.create("random", allocator, batchRows)) {
      System.out.printf(
          Locale.ROOT,
          "READY realistic=%d random=%d%n",
          LinkTable.bodyBytes(realistic.batches.get(0)),
          LinkTable.bodyBytes(random.batches.get(0)));
      System.out.flush();
      for (String line = commands.readLine(); line != null; line = commands.readLine()) {
        String[] words = line.split(" ");
        switch (words[0]) {
          case "stats":
            System.out.println(ProcessStats.sample(allocator).toLine());
            break;
          case "ratio":
            {
              LinkTable table = words[1].equals("random") ? random : realistic;
              System.out.printf(
                  Locale.ROOT,
                  "RATIO %.4f%n",
                  (double) ipcBytes(table, IpcCompression.NONE, allocator)
                      / ipcBytes(table, IpcCompression.valueOf(words[2]), allocator));
              break;
            }
          case "run":
            {
              LinkTable table = words[3].equals("random") ? random : realistic;
              long batches = Long.parseLong(words[4]);
              int port = Integer.parseInt(words[5]);
              long start = System.nanoTime();
              long rows =
                  words[1].equals("flight")
                      ? flight(allocator, port, table, batches, readers)
                      : predict(
                          allocator,
                          port,
                          IpcCompression.valueOf(words[2]),
                          table,
                          batches,
                          readers);
              System.out.printf(
                  Locale.ROOT,
                  "DONE rows=%d seconds=%.3f%n",
                  rows,
                  (System.nanoTime() - start) / 1e9);
              break;
            }
          default:
            throw new IllegalArgumentException("unknown command " + line);
        }
        System.out.flush();
      }
    } finally {
      readers.shutdownNow();
    }
  }

  /** The IPC bytes of the table's distinct batches (and its dictionaries) in {@code codec}. */
  private static long ipcBytes(LinkTable table, IpcCompression codec, BufferAllocator allocator) {
    List<ByteString> chunks = new ArrayList<>();
    ArrowChunkEncoder encoder =
        ArrowChunkEncoder.create(
                table.batches.get(0).getSchema(),
                table.dictionaries,
                ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES,
                chunks::add)
            .compression(codec, allocator);
    for (VectorSchemaRoot batch : table.batches) {
      encoder.writeBatch(batch);
    }
    encoder.end();
    return encoder.bytesWritten();
  }

  private static long predict(
      BufferAllocator allocator,
      int port,
      IpcCompression codec,
      LinkTable table,
      long batches,
      ExecutorService readers)
      throws Exception {
    try (PredictClient client =
            PredictClient.builder("127.0.0.1:" + port, allocator)
                .inputCompression(codec)
                .outputCompression(codec)
                .build();
        PredictCall call = client.openStream(ModelRef.of(MODEL))) {
      Future<Long> received =
          readers.submit(
              () -> {
                long rows = 0;
                PredictionStream results = call.results();
                while (results.next()) {
                  rows += results.root().getRowCount();
                }
                return rows;
              });
      for (long b = 0; b < batches; b++) {
        VectorSchemaRoot batch = table.batches.get((int) (b % table.batches.size()));
        if (table.dictionaries == null) {
          call.write(batch);
        } else {
          call.write(batch, table.dictionaries);
        }
      }
      call.complete();
      return received.get();
    }
  }

  private static long flight(
      BufferAllocator allocator, int port, LinkTable table, long batches, ExecutorService readers)
      throws Exception {
    try (FlightClient client =
            FlightClient.builder(allocator, Location.forGrpcInsecure("127.0.0.1", port)).build();
        FlightClient.ExchangeReaderWriter exchange =
            client.doExchange(FlightDescriptor.command(MODEL.getBytes(UTF_8)));
        VectorSchemaRoot send =
            VectorSchemaRoot.create(table.batches.get(0).getSchema(), allocator)) {
      FlightStream results = exchange.getReader();
      Future<Long> received =
          readers.submit(
              () -> {
                long rows = 0;
                while (results.next()) {
                  rows += results.getRoot().getRowCount();
                }
                return rows;
              });
      FlightClient.ClientStreamListener writer = exchange.getWriter();
      if (table.dictionaries == null) {
        writer.start(send);
      } else {
        writer.start(send, table.dictionaries);
      }
      VectorLoader loader = new VectorLoader(send);
      for (long b = 0; b < batches; b++) {
        VectorSchemaRoot batch = table.batches.get((int) (b % table.batches.size()));
        // Shares the batch's buffers: Flight sends what `send` holds.
        try (ArrowRecordBatch buffers = new VectorUnloader(batch).getRecordBatch()) {
          loader.load(buffers);
        }
        writer.putNext();
      }
      writer.completed();
      long rows = received.get();
      writer.getResult();
      return rows;
    }
  }
}
