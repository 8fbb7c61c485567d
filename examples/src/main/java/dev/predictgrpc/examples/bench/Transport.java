/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;

/** The transports compared, each with its server (run in a child JVM) and its client. */
enum Transport {
  PREDICT_GRPC("predict-grpc", "this library: PredictStream / Predict"),
  FLIGHT("flight", "Arrow Flight DoExchange (flight-core 19, defaults)"),
  GRPC_BYTES("grpc-bytes", "bare grpc-java, byte[] marshaller: bidi 1 MiB messages / unary"),
  /**
   * grpc-bytes over the unshaded grpc-netty transport (NIO, Netty 4.2.9 as Arrow pins it), in both
   * JVMs: the measurement behind the library's choice of grpc-netty-shaded. Only when asked for.
   */
  GRPC_UNSHADED(
      "grpc-unshaded", "grpc-bytes over unshaded grpc-netty (NIO) on both sides; opt-in"),
  REST_JSON("rest-json", "JDK HttpServer + Jackson, JSON column arrays, HttpClient HTTP/1.1"),
  /** The Open Inference Protocol served by this library beside Predict; unary only. */
  OIP("oip", "this library's Open Inference Protocol: ModelInfer, raw contents; unary only");

  private final String label;
  private final String description;

  Transport(String label, String description) {
    this.label = label;
    this.description = description;
  }

  String label() {
    return label;
  }

  String description() {
    return description;
  }

  /** Whether a run without {@code --transports} includes it. */
  boolean byDefault() {
    return this != GRPC_UNSHADED;
  }

  boolean hasUnary() {
    return this != FLIGHT;
  }

  boolean hasStream() {
    return this != OIP;
  }

  /** Extra flags for this transport's server JVM. */
  List<String> serverFlags() {
    // Without TCP_NODELAY the JDK HttpServer holds small responses back for ~40 ms.
    return this == REST_JSON ? List.of("-Dsun.net.httpserver.nodelay=true") : List.of();
  }

  RunningServer serve(BufferAllocator allocator) throws Exception {
    switch (this) {
      case PREDICT_GRPC:
        return PredictGrpcBench.serve(allocator);
      case FLIGHT:
        return FlightBench.serve(allocator);
      case GRPC_BYTES:
        return GrpcBytesBench.serve(allocator, false);
      case GRPC_UNSHADED:
        return GrpcBytesBench.serve(allocator, true);
      case REST_JSON:
        return RestJsonBench.serve();
      case OIP:
        return OipBench.serve(allocator);
    }
    throw new AssertionError(this);
  }

  BenchClient connect(int port, BufferAllocator allocator, BenchTable table) {
    switch (this) {
      case PREDICT_GRPC:
        return new PredictGrpcBench.Client(port, allocator, table);
      case FLIGHT:
        return new FlightBench.Client(port, allocator, table);
      case GRPC_BYTES:
        return new GrpcBytesBench.Client(port, allocator, table, false);
      case GRPC_UNSHADED:
        return new GrpcBytesBench.Client(port, allocator, table, true);
      case REST_JSON:
        return new RestJsonBench.Client(port, table);
      case OIP:
        return new OipBench.Client(port, allocator, table);
    }
    throw new AssertionError(this);
  }

  static Transport parse(String label) {
    for (Transport transport : values()) {
      if (transport.label.equals(label.toLowerCase(Locale.ROOT))) {
        return transport;
      }
    }
    throw new IllegalArgumentException(
        "transport: "
            + label
            + " (expected: predict-grpc, flight, grpc-bytes, grpc-unshaded, rest-json or oip)");
  }
}
