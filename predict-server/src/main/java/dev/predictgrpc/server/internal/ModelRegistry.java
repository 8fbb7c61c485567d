/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import dev.predictgrpc.server.ModelService;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The models a service hosts, by name and version. Immutable once built, so thread-safe.
 *
 * <p>A model's versions are ordered numerically when all of them are integers ("10" after "9"),
 * else as strings; the greatest version answers requests that name none.
 */
public final class ModelRegistry {
  /** Orders integer strings by value; only used when every version of a name is an integer. */
  static final Comparator<String> NUMERIC_ORDER = ModelRegistry::compareIntegers;

  private final Map<String, TreeMap<String, ModelService>> models = new TreeMap<>();

  /**
   * Creates a registry of the given models.
   *
   * @throws IllegalArgumentException if a name is empty or a name and version pair repeats
   */
  public ModelRegistry(Collection<ModelService> services) {
    Map<String, List<ModelService>> byName = new LinkedHashMap<>();
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
      byName.computeIfAbsent(name, n -> new ArrayList<>()).add(service);
    }
    for (Map.Entry<String, List<ModelService>> entry : byName.entrySet()) {
      // One order per name, chosen from all its versions: comparing pair by pair (numeric when
      // both are integers, else as strings) is not transitive ("1a" < "2" < "10" < "1a"), and a
      // TreeMap with such an order loses entries.
      boolean numeric = entry.getValue().stream().allMatch(s -> isInteger(s.version()));
      TreeMap<String, ModelService> versions =
          new TreeMap<>(numeric ? NUMERIC_ORDER : Comparator.<String>naturalOrder());
      for (ModelService service : entry.getValue()) {
        if (versions.put(service.version(), service) != null) {
          throw new IllegalArgumentException(
              "model '" + entry.getKey() + "' version '" + service.version() + "' was added twice");
        }
      }
      models.put(entry.getKey(), versions);
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
      throw new PredictException(Status.Code.NOT_FOUND, "model '" + ClientText.name(name) + "' is not served here");
    }
    if (version.isEmpty()) {
      return versions.lastEntry().getValue();
    }
    ModelService service = versions.get(version);
    if (service == null) {
      throw new PredictException(
          Status.Code.NOT_FOUND,
          "model '" + name + "' has no version '" + ClientText.name(version) + "' (versions: "
              + ClientText.list(versions.keySet()) + ")");
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

  /**
   * The order of a model's versions, chosen from all of them: numeric when every one is an
   * integer ("10" after "9"), else as strings.
   */
  public static Comparator<String> versionOrder(Collection<String> versions) {
    return versions.stream().allMatch(ModelRegistry::isInteger)
        ? NUMERIC_ORDER
        : Comparator.<String>naturalOrder();
  }

  private static int compareIntegers(String a, String b) {
    int byLength = Integer.compare(stripZeros(a).length(), stripZeros(b).length());
    return byLength != 0 ? byLength : stripZeros(a).compareTo(stripZeros(b));
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
