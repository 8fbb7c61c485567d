/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.server.internal.ModelRegistry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which versions of a model name are served: all that were added, the latest N, or a fixed set.
 * Set one with {@link ModelManager#versionPolicy}; the default is {@link #all()}. Versions are
 * ordered as everywhere else: numerically when they are all integers, else as strings.
 *
 * <p>Immutable and thread-safe.
 *
 * @since 0.2
 */
public final class VersionPolicy {
  private static final VersionPolicy ALL = new VersionPolicy(Integer.MAX_VALUE, null);

  private final int latest;
  private final Set<String> pinned;

  private VersionPolicy(int latest, Set<String> pinned) {
    this.latest = latest;
    this.pinned = pinned;
  }

  /** Serves every version added. The default. */
  public static VersionPolicy all() {
    return ALL;
  }

  /**
   * Serves the {@code count} greatest versions: adding a newer one drains the oldest, which is how
   * {@code latest(1)} turns an {@code add} of version N+1 into a rolling upgrade.
   */
  public static VersionPolicy latest(int count) {
    if (count <= 0) {
      throw new IllegalArgumentException("count: " + count + " (expected: > 0)");
    }
    return new VersionPolicy(count, null);
  }

  /** Serves only these versions; adding another is refused. */
  public static VersionPolicy specific(String... versions) {
    Set<String> set = new LinkedHashSet<>();
    for (String version : versions) {
      set.add(requireNonNull(version, "version"));
    }
    if (set.isEmpty()) {
      throw new IllegalArgumentException("specific() needs at least one version");
    }
    return new VersionPolicy(Integer.MAX_VALUE, Set.copyOf(set));
  }

  /**
   * The versions to serve out of {@code versions}, which may come in any order.
   *
   * @return the versions to serve, oldest first (in the order described above)
   */
  public List<String> select(Collection<String> versions) {
    List<String> ordered = new ArrayList<>(versions);
    ordered.sort(ModelRegistry.versionOrder(ordered));
    List<String> kept = new ArrayList<>();
    for (String version : ordered) {
      if (pinned == null || pinned.contains(version)) {
        kept.add(version);
      }
    }
    return kept.size() <= latest ? kept : kept.subList(kept.size() - latest, kept.size());
  }

  @Override
  public String toString() {
    if (pinned != null) {
      return "specific" + pinned;
    }
    return latest == Integer.MAX_VALUE ? "all" : "latest(" + latest + ")";
  }
}
