/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Keeps each model name's health status in step with its versions: SERVING while one serves,
 * NOT_SERVING while its last versions drain, cleared once they are gone. Active between {@link
 * #start()} and {@link #stop()} (the server's shutdown makes every status NOT_SERVING itself).
 * Thread-safe.
 */
final class ModelHealth {
  private final HealthStatusManager health;
  private final PredictService service;
  private final Set<String> reported = new HashSet<>(); // Guarded by this.
  private boolean active; // Guarded by this.

  ModelHealth(HealthStatusManager health, PredictService service) {
    this.health = health;
    this.service = service;
  }

  synchronized void start() {
    active = true;
    update();
  }

  synchronized void stop() {
    active = false;
  }

  /** Brings every name's status up to date with the hosted versions. */
  synchronized void update() {
    if (!active) {
      return;
    }
    Map<String, ServingStatus> statuses = new HashMap<>();
    for (ModelVersion version : service.models().list()) {
      if (version.state() == ModelState.SERVING) {
        statuses.put(version.name(), ServingStatus.SERVING);
      } else if (version.state() == ModelState.DRAINING) {
        statuses.putIfAbsent(version.name(), ServingStatus.NOT_SERVING);
      }
    }
    for (String gone : reported) {
      if (!statuses.containsKey(gone)) {
        health.clearStatus(gone);
      }
    }
    reported.clear();
    statuses.forEach(
        (name, status) -> {
          health.setStatus(name, status);
          reported.add(name);
        });
  }
}
