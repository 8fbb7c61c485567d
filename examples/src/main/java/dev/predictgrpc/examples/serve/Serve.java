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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * {@code serve [--port 8980] [--bind 0.0.0.0] NAME[:VERSION]=model.onnx ...}: serves ONNX files over
 * gRPC, with health checking and reflection, until Ctrl-C (SIGINT) or SIGTERM, then drains calls in
 * progress and exits. Several files may serve one name as different versions ({@code
 * iris:1=old.onnx iris:2=new.onnx}); a request naming no version gets the greatest.
 *
 * <p>{@code serve --model-repository DIR} serves the versions in {@code DIR/NAME/VERSION/model.onnx}
 * instead, and follows the directory as it changes (see {@link ModelRepository}), or, with {@code
 * --admin}, changes only through the admin service.
 */
public final class Serve {
  static final String USAGE =
      "usage: serve [--port 8980] [--bind 0.0.0.0] NAME[:VERSION]=model.onnx ...\n"
          + "  --port P       the port to listen on (default 8980; 0 picks a free one)\n"
          + "  --bind ADDR    the address to listen on (default 0.0.0.0: every network interface;\n"
          + "                 127.0.0.1 to accept calls from this machine only)\n"
          + "  --open-inference  also serve the KServe Open Inference Protocol (inference.\n"
          + "                 GRPCInferenceService, as Triton's and KServe's clients call it)\n"
          + "  NAME=FILE      serve an ONNX file as model NAME, version 1\n"
          + "  NAME:V=FILE    serve it as version V of NAME; repeat with other versions to host\n"
          + "                 several (a request naming no version gets the greatest)\n"
          + "   or: serve [--port 8980] [--bind 0.0.0.0] --model-repository DIR [options]\n"
          + "  --model-repository DIR  serve DIR/NAME/VERSION/model.onnx; new versions load, removed\n"
          + "                 ones unload, changed files reload, once unchanged for a poll\n"
          + "  --poll-interval T       how often to look at DIR (default 2s; 500ms; 0: only at start)\n"
          + "  --version-policy NAME=P which versions of NAME serve: latest:N (default latest:1),\n"
          + "                 all, or specific:V1,V2; NAME * for every name without its own\n"
          + "  --admin        enable the admin service (LoadModel, UnloadModel, ListRepository);\n"
          + "                 the directory is then not polled\n"
          + "  --admin-token-file F    admin calls must send 'authorization: Bearer <the token in F>';\n"
          + "                 without it, --admin needs --bind 127.0.0.1";

  private Serve() {}

  /** One {@code NAME[:VERSION]=PATH} argument. */
  record ModelArg(String name, String version, Path file) {
    /**
     * Parses one argument.
     *
     * @throws UsageException naming the argument if a part is empty
     */
    static ModelArg parse(String arg) {
      int equals = arg.indexOf('=');
      String key = arg.substring(0, equals);
      String path = arg.substring(equals + 1);
      // The name ends at the first ':'; a path may hold ':' (C:\models), it is right of the '='.
      int colon = key.indexOf(':');
      String name = colon < 0 ? key : key.substring(0, colon);
      String version = colon < 0 ? "1" : key.substring(colon + 1);
      if (name.isEmpty() || version.isEmpty() || path.isEmpty()) {
        throw new UsageException(
            "'" + arg + "' is not NAME=model.onnx or NAME:VERSION=model.onnx");
      }
      return new ModelArg(name, version, Path.of(path));
    }
  }

  /** Runs the command; returns the exit status. Blocks until the server stops. */
  public static int run(String[] args, PrintStream out, PrintStream err) throws InterruptedException {
    if (List.of(args).contains("--help")) {
      out.println(USAGE);
      return 0;
    }
    Running running;
    try {
      running = start(args, out);
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      err.println(USAGE);
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
    List<ModelArg> models = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    RepositoryServe.Settings repository = new RepositoryServe.Settings();
    boolean openInference = false;
    for (int i = 0; i < args.length; i++) {
      int taken = repository.accept(args, i);
      if (taken > 0) {
        i += taken - 1;
      } else if (args[i].equals("--port") && i + 1 < args.length) {
        String value = args[++i];
        try {
          port = Integer.parseInt(value);
        } catch (NumberFormatException e) {
          throw new UsageException("--port " + value + " is not a number");
        }
      } else if (args[i].equals("--bind") && i + 1 < args.length) {
        bind = args[++i];
      } else if (args[i].equals("--open-inference")) {
        openInference = true;
      } else if (args[i].contains("=") && !args[i].startsWith("-")) {
        ModelArg model = ModelArg.parse(args[i]);
        if (!seen.add(model.name() + ":" + model.version())) {
          throw new UsageException(
              "model '" + model.name() + "' version '" + model.version() + "' is given twice; "
                  + "serve several files under one name as NAME:1=a.onnx NAME:2=b.onnx");
        }
        models.add(model);
      } else {
        throw new UsageException("unexpected argument '" + args[i] + "'");
      }
    }
    if (port < 0 || port > 65535) {
      throw new UsageException("--port " + port + " is not a port (expected: 0 to 65535)");
    }
    repository.check(bind);
    if (repository.dir != null) {
      if (!models.isEmpty()) {
        throw new UsageException(
            "serve either NAME=path.onnx files or --model-repository DIR, not both");
      }
      return RepositoryServe.start(repository, port, bind, openInference, out);
    }
    if (models.isEmpty()) {
      throw new UsageException(
          "name at least one model as NAME=path.onnx or NAME:VERSION=path.onnx, or give "
              + "--model-repository DIR");
    }
    BufferAllocator allocator = new RootAllocator();
    try {
      PredictServer.Builder builder =
          PredictServer.builder(allocator)
              .port(port)
              .bindAddress(bind)
              .openInferenceProtocol(openInference);
      List<ModelService> services = new ArrayList<>();
      for (ModelArg model : models) {
        Path file = model.file();
        if (!Files.isReadable(file)) {
          throw new IOException("cannot read model file " + file);
        }
        ModelService service =
            OnnxModel.builder(model.name(), file)
                .version(model.version())
                .description("ONNX model " + file.getFileName())
                .build();
        services.add(service);
        builder.addModel(service);
      }
      PredictServer server = builder.build().start();
      for (ModelService model : services) {
        out.println(
            "model " + model + " takes " + describe(model.inputSchema()) + " and returns "
                + describe(model.outputSchema()));
      }
      out.println(servingLine(bind, server.port()));
      out.flush();
      return new Running(server, allocator, null);
    } catch (IOException | RuntimeException e) {
      allocator.close();
      throw e;
    }
  }

  /** The line that says where the server listens. */
  static String servingLine(String bind, int port) {
    return "serving on " + bind + ":" + port
        + (bind.equals("0.0.0.0") ? " (every network interface; --bind 127.0.0.1 for this "
            + "machine only)" : "")
        + " (gRPC health and reflection enabled); Ctrl-C to stop";
  }

  private static String describe(Schema schema) {
    List<String> parts = new ArrayList<>();
    for (Field field : schema.getFields()) {
      parts.add(field.getName() + ":" + field.getType());
    }
    return String.join(", ", parts);
  }

  /**
   * A running server, its allocator and its model repository if any; closing it stops polling the
   * repository, drains calls and releases the rest.
   */
  public static final class Running implements AutoCloseable {
    final PredictServer server;
    private final BufferAllocator allocator;
    private final @Nullable ModelRepository repository;

    Running(
        PredictServer server, BufferAllocator allocator, @Nullable ModelRepository repository) {
      this.server = server;
      this.allocator = allocator;
      this.repository = repository;
    }

    /** The port the server listens on. */
    public int port() {
      return server.port();
    }

    @Override
    public void close() {
      if (repository != null) {
        repository.close(); // No load may start while the server closes.
      }
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
