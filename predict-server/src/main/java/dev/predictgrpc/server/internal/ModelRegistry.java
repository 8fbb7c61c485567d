/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.ModelService;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The models a service hosts, by name and version. Immutable once built, so thread-safe.
 *
 * <p>Versions are ordered numerically when both are integers ("10" after "9"), else as strings;
 * the greatest version answers requests that name none.
 */
public final class ModelRegistry {
  static final Comparator<String> VERSION_ORDER = ModelRegistry::compareVersions;

  private final Map<String, TreeMap<String, ModelService>> models = new TreeMap<>();

  /**
   * Creates a registry of the given models.
   *
   * @throws IllegalArgumentException if a name is empty or a name and version pair repeats
   */
  public ModelRegistry(Collection<ModelService> services) {
    for (ModelService service : services) {
      String name = service.name();
      String version = service.version();
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException(
            "model " + service.getClass().getName() + " has an empty name");
      }
      if (version == null || version.isEmpty()) {
        throw new IllegalArgumentException("model '" + name + "' has an empty version");
      }
      ModelService previous =
          models.computeIfAbsent(name, n -> new TreeMap<>(VERSION_ORDER)).put(version, service);
      if (previous != null) {
        throw new IllegalArgumentException(
            "model '" + name + "' version '" + version + "' was added twice");
      }
    }
  }

  /**
   * Finds the model a request asks for; an empty version means the latest.
   *
   * @throws PredictException INVALID_ARGUMENT for an empty name, NOT_FOUND for an unknown model
   *     or version
   */
  public ModelService resolve(String name, String version) {
    if (name.isEmpty()) {
      throw new PredictException(Status.Code.INVALID_ARGUMENT, "the request names no model");
    }
    TreeMap<String, ModelService> versions = models.get(name);
    if (versions == null) {
      throw new PredictException(Status.Code.NOT_FOUND, "model '" + name + "' is not served here");
    }
    if (version.isEmpty()) {
      return versions.lastEntry().getValue();
    }
    ModelService service = versions.get(version);
    if (service == null) {
      throw new PredictException(
          Status.Code.NOT_FOUND,
          "model '" + name + "' has no version '" + version + "' (versions: " + versions.keySet()
              + ")");
    }
    return service;
  }

  /** Model names, sorted. */
  public List<String> names() {
    return List.copyOf(models.keySet());
  }

  /** The versions of a model, oldest first. */
  public List<String> versions(String name) {
    TreeMap<String, ModelService> versions = models.get(name);
    return versions == null ? List.of() : List.copyOf(versions.keySet());
  }

  /** Every hosted model, by name then version. */
  public List<ModelService> all() {
    List<ModelService> all = new ArrayList<>();
    models.values().forEach(versions -> all.addAll(versions.values()));
    return all;
  }

  private static int compareVersions(String a, String b) {
    if (isInteger(a) && isInteger(b)) {
      int byLength = Integer.compare(stripZeros(a).length(), stripZeros(b).length());
      return byLength != 0 ? byLength : stripZeros(a).compareTo(stripZeros(b));
    }
    return a.compareTo(b);
  }

  private static boolean isInteger(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
  }

  private static String stripZeros(String digits) {
    int i = 0;
    while (i < digits.length() - 1 && digits.charAt(i) == '0') {
      i++;
    }
    return digits.substring(i);
  }
}
