/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import java.util.List;
import java.util.Map;

/**
 * The gRPC service config the client applies by default: round_robin over every resolved address,
 * client-side health checking against {@code predictgrpc.v1.PredictionService} (so a replica that
 * is draining or down gets no new calls), and retries of the idempotent unary methods on
 * UNAVAILABLE. With a single address it behaves like a plain channel.
 */
public final class ReplicaServiceConfig {
  private ReplicaServiceConfig() {}

  /** The service config, as the map {@code ManagedChannelBuilder.defaultServiceConfig} takes. */
  public static Map<String, ?> create(int maxAttempts) {
    String service = "predictgrpc.v1.PredictionService";
    List<Map<String, ?>> idempotent =
        List.of(
            Map.of("service", service, "method", "Predict"),
            Map.of("service", service, "method", "ListModels"),
            Map.of("service", service, "method", "GetModelMetadata"));
    // Service-config numbers are JSON numbers, which gRPC reads as Double.
    Map<String, ?> retryPolicy =
        Map.of(
            "maxAttempts", (double) maxAttempts,
            "initialBackoff", "0.05s",
            "maxBackoff", "1s",
            "backoffMultiplier", 2.0,
            "retryableStatusCodes", List.of("UNAVAILABLE"));
    return Map.of(
        "loadBalancingConfig", List.of(Map.of("round_robin", Map.of())),
        "healthCheckConfig", Map.of("serviceName", service),
        "methodConfig", List.of(Map.of("name", idempotent, "retryPolicy", retryPolicy)));
  }
}
