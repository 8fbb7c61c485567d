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

/**
 * {@code serve [--port 8980] [--bind 0.0.0.0] NAME=model.onnx ...}: serves ONNX files over gRPC,
 * with health checking and reflection, until Ctrl-C.
 */
public final class Serve {
  private Serve() {}

  /** Runs the command; returns the exit status. Blocks until the server stops. */
  public static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
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
        err.println("error: unexpected argument '" + args[i] + "'");
        return usage(err);
      }
    }
    if (models.isEmpty()) {
      err.println("error: name at least one model as NAME=path.onnx");
      return usage(err);
    }
    BufferAllocator allocator = new RootAllocator();
    PredictServer server;
    try {
      PredictServer.Builder builder = PredictServer.builder(allocator).port(port).bindAddress(bind);
      for (String[] model : models) {
        Path file = Path.of(model[1]);
        if (!Files.isReadable(file)) {
          err.println("error: cannot read model file " + file);
          allocator.close();
          return 1;
        }
        builder.addModel(OnnxModel.builder(model[0], file).description("ONNX model " + file.getFileName()).build());
      }
      server = builder.build().start();
    } catch (IOException | IllegalStateException | IllegalArgumentException e) {
      String cause = e.getCause() != null ? ": " + e.getCause().getMessage() : "";
      err.println("error: " + e.getMessage() + cause);
      allocator.close();
      return 1;
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  err.println("stopping: finishing calls in progress...");
                  server.close();
                  allocator.close();
                  err.println("stopped");
                }));
    for (ModelService model : server.service().models()) {
      out.println("model " + model + " takes " + describe(model.inputSchema().getFields())
          + " and returns " + describe(model.outputSchema().getFields()));
    }
    out.println("serving on " + bind + ":" + server.port()
        + " (gRPC health and reflection enabled); Ctrl-C to stop");
    out.flush();
    server.awaitTermination();
    return 0;
  }

  private static String describe(List<Field> fields) {
    List<String> parts = new ArrayList<>();
    fields.forEach(f -> parts.add(f.getName() + ":" + f.getType()));
    return String.join(", ", parts);
  }

  private static int usage(PrintStream err) {
    err.println("usage: serve [--port 8980] [--bind 0.0.0.0] NAME=model.onnx [NAME=model.onnx ...]");
    return 2;
  }
}
