/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples;

import dev.predictgrpc.common.ArrowSupport;
import dev.predictgrpc.examples.bench.Bench;
import dev.predictgrpc.examples.bench.SwapBench;
import dev.predictgrpc.examples.demo.Demo;
import dev.predictgrpc.examples.score.Score;
import dev.predictgrpc.examples.serve.Serve;
import java.util.Arrays;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The examples' command line: {@code java -jar predict-grpc-examples.jar
 * demo|serve|score|bench|bench-batching|attack|swap-bench ...}.
 */
public final class Main {
  /** Held so the level sticks: java.util.logging keeps only weak references to loggers. */
  private static final Logger ARROW_LOGGER = Logger.getLogger("org.apache.arrow");

  private Main() {}

  public static void main(String[] args) throws Exception {
    // Netty turns off its Unsafe access on JDK 24+, which Arrow's allocator needs; this must be
    // set before any Netty class loads, which is why it is the first thing main does.
    if (System.getProperty("io.netty.noUnsafe") == null) {
      System.setProperty("io.netty.noUnsafe", "false");
    }
    ARROW_LOGGER.setLevel(Level.WARNING); // Arrow announces its allocator at INFO on start-up.
    try {
      ArrowSupport.checkJvm();
    } catch (IllegalStateException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
    }
    String command = args.length == 0 ? "help" : args[0];
    String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
    int status;
    switch (command) {
      case "demo":
        status = Demo.run(rest, System.out);
        break;
      case "serve":
        status = Serve.run(rest, System.out, System.err);
        break;
      case "score":
        status = Score.run(rest, System.out, System.err);
        break;
      case "bench":
        status = Bench.run(rest, System.out);
        break;
      case "attack":
        status = dev.predictgrpc.examples.bench.AttackBench.run(rest, System.out);
        break;
      case "bench-batching":
        status = dev.predictgrpc.examples.batching.BenchBatching.run(rest, System.out, System.err);
        break;
      case "bench-codec":
        status = dev.predictgrpc.examples.bench.CodecBench.run(rest, System.out);
        break;
      case "bench-parquet":
        status = dev.predictgrpc.examples.bench.ParquetBench.run(rest, System.out, System.err);
        break;
      case "swap-bench":
        status = SwapBench.run(rest, System.out, System.err);
        break;
      default:
        System.err.println(
            "usage: java -jar predict-grpc-examples.jar <command>\n"
                + "  demo                                  serve the bundled iris model and score data\n"
                + "  serve [--port P] [--bind ADDR] NAME[:VERSION]=model.onnx ...\n"
                + "                                        serve ONNX models over gRPC; listens on\n"
                + "                                        0.0.0.0 (every interface) unless --bind\n"
                + "  serve --model-repository DIR [--poll-interval 2s] [--admin ...]\n"
                + "                                        serve DIR/NAME/VERSION/model.onnx, following\n"
                + "                                        changes (serve --help for every option)\n"
                + "  score --target HOST:PORT --model NAME --input FILE --output FILE\n"
                + "                                        score a CSV, Arrow or Parquet file on a server\n"
                + "  bench [--rows N] [--repeats R] [--quick]  compare with Flight, bare gRPC and REST/JSON\n"
                + "  bench-batching [--callers 256]        dynamic batching on and off under load\n"
                + "  bench-codec [--calls N]               one unary call's own work on one thread\n"
                + "  bench-parquet [--sizes-mb 100,1000]   Parquet scoring: MB/s and client memory\n"
                + "  attack [--seconds S] [--attacks ...]  hostile clients against a small-budget server\n"
                + "  swap-bench [--seconds 30] [--threads 8]  latency while a model is replaced every\n"
                + "                                        second through the repository, and without");
        status = command.equals("help") ? 0 : 2;
    }
    System.exit(status);
  }
}
