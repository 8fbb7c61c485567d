/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import dev.predictgrpc.examples.onnx.OnnxModel;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictServer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * {@code serve [--port 8980] [--bind 0.0.0.0] NAME=model.onnx ...}: serves ONNX files over gRPC,
 * with health checking and reflection, until Ctrl-C (SIGINT) or SIGTERM, then drains calls in
 * progress and exits.
 */
public final class Serve {
  private Serve() {}

  /** Runs the command; returns the exit status. Blocks until the server stops. */
  public static int run(String[] args, PrintStream out, PrintStream err) throws InterruptedException {
    Running running;
    try {
      running = start(args, out);
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      err.println("usage: serve [--port 8980] [--bind 0.0.0.0] NAME=model.onnx [NAME=model.onnx ...]");
      return 2;
    } catch (IOException | RuntimeException e) {
      String cause = e.getCause() != null ? ": " + e.getCause().getMessage() : "";
      err.println("error: " + e.getMessage() + cause);
      return 1;
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  err.println("stopping: finishing calls in progress...");
                  running.close();
                  err.println("stopped");
                }));
    running.server.awaitTermination();
    return 0;
  }

  /**
   * Starts serving and returns at once.
   *
   * @throws UsageException for bad arguments
   * @throws IOException if a model file cannot be read or the port cannot be bound
   */
  public static Running start(String[] args, PrintStream out) throws IOException {
    int port = 8980;
    String bind = "0.0.0.0";
    List<String[]> models = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--port") && i + 1 < args.length) {
        port = Integer.parseInt(args[++i]);
      } else if (args[i].equals("--bind") && i + 1 < args.length) {
        bind = args[++i];
      } else if (args[i].contains("=") && !args[i].startsWith("-")) {
        models.add(args[i].split("=", 2));
      } else {
        throw new UsageException("unexpected argument '" + args[i] + "'");
      }
    }
    if (models.isEmpty()) {
      throw new UsageException("name at least one model as NAME=path.onnx");
    }
    BufferAllocator allocator = new RootAllocator();
    try {
      PredictServer.Builder builder = PredictServer.builder(allocator).port(port).bindAddress(bind);
      for (String[] model : models) {
        Path file = Path.of(model[1]);
        if (!Files.isReadable(file)) {
          throw new IOException("cannot read model file " + file);
        }
        builder.addModel(
            OnnxModel.builder(model[0], file)
                .description("ONNX model " + file.getFileName())
                .build());
      }
      PredictServer server = builder.build().start();
      for (ModelService model : server.service().models()) {
        out.println(
            "model " + model + " takes " + describe(model.inputSchema()) + " and returns "
                + describe(model.outputSchema()));
      }
      out.println(
          "serving on " + bind + ":" + server.port()
              + " (gRPC health and reflection enabled); Ctrl-C to stop");
      out.flush();
      return new Running(server, allocator);
    } catch (IOException | RuntimeException e) {
      allocator.close();
      throw e;
    }
  }

  private static String describe(Schema schema) {
    List<String> parts = new ArrayList<>();
    for (Field field : schema.getFields()) {
      parts.add(field.getName() + ":" + field.getType());
    }
    return String.join(", ", parts);
  }

  /** A running server and its allocator; closing it drains calls and releases both. */
  public static final class Running implements AutoCloseable {
    final PredictServer server;
    private final BufferAllocator allocator;

    Running(PredictServer server, BufferAllocator allocator) {
      this.server = server;
      this.allocator = allocator;
    }

    /** The port the server listens on. */
    public int port() {
      return server.port();
    }

    @Override
    public void close() {
      server.close();
      allocator.close();
    }
  }

  /** Bad command-line arguments. */
  public static final class UsageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }
}
