/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import com.google.protobuf.ByteString;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.common.ArrowSupport;
import dev.predictgrpc.examples.bench.BenchModels.ScoreModel;
import dev.predictgrpc.server.PredictService;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * {@code bench-codec}: the CPU time and garbage of one unary call's own work, measured on one
 * thread, where the network and the other process add no noise. It times the Arrow codec alone
 * (encoding a request, decoding it on a fresh call allocator as the server does) and a whole
 * {@code Predict} over the in-process transport with direct executors, next to a bare gRPC unary
 * call carrying the same bytes. The TCP benchmark ({@code bench --sections unary}) gives the
 * figures users see; this one says how much of them is ours, and moves with each change to the
 * unary path by less than the TCP run's noise. Single-threaded, so its figures are per core.
 */
public final class CodecBench {
  private static final String USAGE = "usage: bench-codec [--calls N]  (default 100000)";

  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  /** Rounds per figure; the first ones warm the JIT up and the last is printed. */
  private static final int ROUNDS = 4;

  private CodecBench() {}

  /** A measured operation. */
  private interface Operation {
    void run() throws Exception;
  }

  public static int run(String[] args, PrintStream out) throws Exception {
    int calls = 100_000;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--calls") && i + 1 < args.length) {
        calls = Integer.parseInt(args[++i]);
      } else {
        System.err.println(USAGE);
        return 2;
      }
    }
    out.printf(
        Locale.ROOT,
        "== Unary work per call on one thread (%,d calls per figure, JDK %s): CPU us and"
            + " heap bytes allocated%n",
        calls,
        Runtime.version());
    out.println("          what                                   rows    CPU us    bytes");
    try (BufferAllocator allocator = ArrowSupport.rootAllocator();
        BenchTable table = new BenchTable(allocator, Bench.UNARY_ROWS[1])) {
      for (int rows : Bench.UNARY_ROWS) {
        codec(out, allocator, table, rows, calls);
      }
      inProcess(out, allocator, table, calls);
    }
    return 0;
  }

  private static void codec(
      PrintStream out, BufferAllocator allocator, BenchTable table, int rows, int calls)
      throws Exception {
    try (VectorSchemaRoot input = table.firstRows(allocator, rows)) {
      ByteString request = ArrowChunkEncoder.encodeStream(input, null);
      measure(out, "encode request (ArrowChunkEncoder)", rows, calls,
          () -> ArrowChunkEncoder.encodeStream(input, null));
      measure(out, "decode request (ArrowChunkDecoder)", rows, calls, () -> {
        // As the server does: a call allocator per request, a decoder over it.
        try (BufferAllocator call = allocator.newChildAllocator("call", 0, Long.MAX_VALUE);
            ArrowChunkDecoder decoder = ArrowChunkDecoder.builder(call).build()) {
          decoder.append(request);
          while (decoder.nextBatch()) {
            if (decoder.root().getRowCount() != rows) {
              throw new IllegalStateException("decoded " + decoder.root().getRowCount() + " rows");
            }
          }
          decoder.finish();
        }
      });
    }
  }

  private static void inProcess(
      PrintStream out, BufferAllocator allocator, BenchTable table, int calls) throws Exception {
    String name = InProcessServerBuilder.generateName();
    ServerServiceDefinition.Builder bare = ServerServiceDefinition.builder("bench.RawBytes");
    for (int rows : Bench.UNARY_ROWS) {
      byte[] response = GrpcBytesBench.scoreIpc(allocator, rows);
      bare.addMethod(
          GrpcBytesBench.unaryMethod(rows),
          ServerCalls.asyncUnaryCall(
              (request, responses) -> {
                responses.onNext(response);
                responses.onCompleted();
              }));
    }
    try (PredictService service =
        PredictService.builder(allocator).addModel(new ScoreModel()).build()) {
      Server server =
          InProcessServerBuilder.forName(name)
              .directExecutor()
              .addService(service)
              .addService(bare.build())
              .build()
              .start();
      ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
      try (PredictClient client = PredictClient.create(channel, allocator)) {
        ModelRef score = ModelRef.of("score");
        for (int rows : Bench.UNARY_ROWS) {
          try (VectorSchemaRoot input = table.firstRows(allocator, rows)) {
            byte[] request = ArrowChunkEncoder.encodeStream(input, null).toByteArray();
            measure(out, "Predict, client and server, in-process", rows, calls, () -> {
              try (VectorSchemaRoot output = client.predict(score, input)) {
                table.checkScores((Float4Vector) output.getVector(0), rows);
              }
            });
            measure(out, "bare gRPC unary, same bytes, in-process", rows, calls,
                () -> ClientCalls.blockingUnaryCall(
                    channel, GrpcBytesBench.unaryMethod(rows), CallOptions.DEFAULT, request));
          }
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  private static void measure(
      PrintStream out, String what, int rows, int calls, Operation operation) throws Exception {
    double micros = 0;
    long bytes = 0;
    for (int round = 0; round < ROUNDS; round++) {
      long cpuBefore = THREADS.getCurrentThreadCpuTime();
      long bytesBefore = THREADS.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < calls; i++) {
        operation.run();
      }
      micros = (THREADS.getCurrentThreadCpuTime() - cpuBefore) / 1e3 / calls;
      bytes = (THREADS.getCurrentThreadAllocatedBytes() - bytesBefore) / calls;
    }
    out.printf(Locale.ROOT, "codec     %-38s %4d %9.2f %,8d%n", what, rows, micros, bytes);
  }
}
