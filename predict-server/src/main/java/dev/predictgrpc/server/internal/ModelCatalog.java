/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Batching;
import dev.predictgrpc.server.ModelOptions;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelState;
import dev.predictgrpc.server.ModelVersion;
import dev.predictgrpc.server.VersionPolicy;
import io.grpc.Context;
import io.grpc.Status;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * The model versions a service hosts, which can change while calls run: versions are loaded
 * (started, warmed up), published, and later drained and closed.
 *
 * <p>Calls read an immutable snapshot of the published versions from one volatile field, so
 * resolving a model costs no lock, and "latest" switches atomically: a call resolves a version and
 * takes a hold on it at once ({@link #acquire}), and keeps that version for its whole life. A
 * version that is removed or replaced leaves the snapshot first, so no new call reaches it, then
 * closes when its last call ends or, at the latest, when the drain grace period ends (see {@link
 * ServedModel}). A version whose start or warm-up fails is never published, and whatever it was
 * to replace keeps serving.
 *
 * <p>Thread-safe. Changes are serialized; loading a model (its {@code start()} and warm-up) runs
 * outside the lock, so a slow load delays no call and no other change.
 */
public final class ModelCatalog {
  private static final Logger logger = Logger.getLogger(ModelCatalog.class.getName());

  /** The published versions: what calls can reach. Immutable. */
  private record Snapshot(ModelRegistry registry, Map<ModelService, ServedModel> served) {
    static final Snapshot EMPTY = new Snapshot(new ModelRegistry(List.of()), Map.of());
  }

  private final BufferAllocator allocator;
  private final long callMemoryLimit;
  private final Duration drainGracePeriod;
  private final @Nullable OpenTelemetryMetrics metrics;
  private final Object changes = new Object();
  private volatile Snapshot published = Snapshot.EMPTY;
  /** Every version not yet closed: loading, serving or draining. */
  private final List<ServedModel> live = new CopyOnWriteArrayList<>();
  /** Name and version pairs being loaded, so two loads of one pair cannot race. Guarded by changes. */
  private final Set<String> loading = new HashSet<>();
  private final Map<String, VersionPolicy> policies = new ConcurrentHashMap<>();
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private boolean closed; // Guarded by changes.

  /**
   * An empty catalog. Batched models take merged batches' memory from children of {@code
   * allocator} (not owned), each limited to {@code callMemoryLimit}; a removed version gets {@code
   * drainGracePeriod} to finish its calls; with {@code openTelemetry}, per-model metrics are
   * published through it.
   */
  public ModelCatalog(
      BufferAllocator allocator,
      long callMemoryLimit,
      Duration drainGracePeriod,
      @Nullable OpenTelemetry openTelemetry) {
    this.allocator = allocator;
    this.callMemoryLimit = callMemoryLimit;
    this.drainGracePeriod = drainGracePeriod;
    this.metrics = openTelemetry == null ? null : new OpenTelemetryMetrics(openTelemetry);
    if (metrics != null) {
      metrics.observe(this::recorders);
    }
  }

  /** Runs {@code listener} after every change to the published versions or their states. */
  public void addListener(Runnable listener) {
    listeners.add(requireNonNull(listener, "listener"));
  }

  /**
   * Loads {@code model} and publishes it, or, with {@code replace}, publishes it in place of the
   * version of the same name and version, which then drains. Returns once it is published. Takes
   * ownership of {@code model}: if it is refused or fails, it is closed.
   *
   * @throws IllegalArgumentException if the name or version is empty, the version is already
   *     hosted (add) or not hosted (replace), or the name's version policy does not admit it
   * @throws IllegalStateException if the model fails to start or warm up (it is then closed and
   *     nothing else changes), or the catalog is closed
   */
  public void load(ModelService model, ModelOptions options, boolean replace) {
    String name = requireNonNull(model.name(), "name");
    String version = requireNonNull(model.version(), "version");
    if (name.isEmpty() || version.isEmpty()) {
      throw new IllegalArgumentException(
          "model " + model.getClass().getName() + " has an empty name or version");
    }
    String key = name + ":" + version;
    synchronized (changes) {
      try {
        checkOpen();
        checkChange(name, version, replace);
        if (!loading.add(key)) {
          throw new IllegalArgumentException("model '" + key + "' is being loaded already");
        }
      } catch (RuntimeException e) {
        // The caller handed the model over, so a refused one is closed too (it never started);
        // unless it is this very instance that serves, added a second time.
        if (live.stream().noneMatch(served -> served.model == model)) {
          closeQuietly(model);
        }
        throw e;
      }
    }
    ServedModel served = null;
    try {
      served = start(model, options.batching());
      warmUp(served, options.warmUp());
      publish(served, replace);
    } catch (RuntimeException e) {
      if (served != null) {
        served.closeNow(Duration.ZERO); // Never published: nothing else to drain.
      }
      throw e;
    } finally {
      synchronized (changes) {
        loading.remove(key);
      }
    }
  }

  /**
   * Unpublishes a version: it takes no new calls and closes once its calls have finished, or when
   * the drain grace period ends.
   *
   * @return completes when the version has closed
   * @throws PredictException NOT_FOUND if no such version is published
   */
  public CompletableFuture<Void> remove(String name, String version) {
    ServedModel removed;
    synchronized (changes) {
      Snapshot current = published;
      removed = current.served.get(current.registry.resolve(name, version));
      List<ModelService> models = new ArrayList<>(current.registry.all());
      models.remove(removed.model);
      published = snapshotOf(models, current.served);
    }
    drain(removed);
    notifyListeners();
    return removed.closed();
  }

  /**
   * Sets the policy for a model name and applies it to the versions published now, draining the
   * ones it no longer admits.
   */
  public void versionPolicy(String name, VersionPolicy policy) {
    requireNonNull(name, "name");
    requireNonNull(policy, "policy");
    List<ServedModel> dropped = new ArrayList<>();
    synchronized (changes) {
      policies.put(name, policy);
      Snapshot current = published;
      List<String> versions = current.registry.versions(name);
      List<String> kept = policy.select(versions);
      if (kept.size() == versions.size()) {
        return;
      }
      List<ModelService> models = new ArrayList<>();
      for (ModelService model : current.registry.all()) {
        if (model.name().equals(name) && !kept.contains(model.version())) {
          dropped.add(current.served.get(model));
        } else {
          models.add(model);
        }
      }
      published = snapshotOf(models, current.served);
    }
    dropped.forEach(this::drain);
    notifyListeners();
  }

  /** Every version not yet closed, by name then version, with its state. */
  public List<ModelVersion> list() {
    List<ModelVersion> versions = new ArrayList<>();
    for (ServedModel served : sortedLive()) {
      versions.add(new ModelVersion(served.model.name(), served.model.version(), served.state()));
    }
    return versions;
  }

  /**
   * Resolves a published version and takes a hold on it for one call; release it with {@link
   * ServedModel#release()} when the call ends.
   *
   * @throws PredictException INVALID_ARGUMENT for an empty name, NOT_FOUND for an unknown model
   *     or version, UNAVAILABLE if the catalog is closing
   */
  ServedModel acquire(String name, String version) {
    // A version can close between reading the snapshot and taking the hold only after a newer
    // snapshot without it was published, so reading again always makes progress.
    for (int attempt = 0; attempt < 1000; attempt++) {
      Snapshot current = published;
      ServedModel served = current.served.get(current.registry.resolve(name, version));
      if (served.tryAcquire()) {
        return served;
      }
      Thread.onSpinWait();
    }
    throw new PredictException(
        Status.Code.UNAVAILABLE, "model '" + name + "' is being unloaded; retry");
  }

  /** The published versions now. */
  public ModelRegistry registry() {
    return published.registry;
  }

  /** Statistics of every version not yet closed, by name then version. */
  public List<StatsSnapshot> statistics() {
    List<StatsSnapshot> snapshots = new ArrayList<>();
    sortedLive().forEach(served -> snapshots.add(served.stats.snapshot(served.state())));
    return snapshots;
  }

  /** Statistics of one published version. */
  public StatsSnapshot statistics(ModelService model) {
    ServedModel served = published.served.get(model);
    if (served == null) {
      throw new PredictException(Status.Code.NOT_FOUND, "model " + model + " is not served here");
    }
    return served.stats.snapshot(served.state());
  }

  /**
   * Closes every version now: batchers stop (waiting requests fail with UNAVAILABLE; a running
   * batch gets up to {@code timeout}), then {@code awaitCalls} runs, then the models close and
   * metrics are unregistered. For the service's shutdown, after the gRPC server has stopped
   * taking calls. Idempotent.
   */
  public void close(Duration timeout, Runnable awaitCalls) {
    synchronized (changes) {
      if (closed) {
        return;
      }
      closed = true;
      published = Snapshot.EMPTY;
    }
    for (ServedModel served : live) {
      served.stopBatching(timeout);
    }
    awaitCalls.run();
    for (ServedModel served : live) {
      served.closeNow(timeout);
    }
    if (metrics != null) {
      metrics.close();
    }
  }

  private ServedModel start(ModelService model, @Nullable Batching batching) {
    try {
      model.start();
    } catch (Exception e) {
      closeQuietly(model);
      throw new IllegalStateException("model " + model + " failed to start: " + e, e);
    }
    MetricsSink sink =
        metrics == null ? MetricsSink.NONE : metrics.sink(model.name(), model.version());
    ModelStatsRecorder stats = new ModelStatsRecorder(model.name(), model.version(), batching, sink);
    Batcher batcher;
    try {
      batcher =
          batching == null
              ? null
              : Batcher.start(model, batching, allocator, callMemoryLimit, stats);
    } catch (RuntimeException e) {
      closeQuietly(model);
      throw e;
    }
    ServedModel[] self = new ServedModel[1];
    ServedModel served =
        new ServedModel(
            model,
            stats,
            batcher,
            () -> {
              live.remove(self[0]);
              notifyListeners();
            });
    self[0] = served;
    live.add(served);
    return served;
  }

  /** Scores the warm-up batch, if any, through the model and its schema checks. */
  private void warmUp(ServedModel served, @Nullable VectorSchemaRoot sample) {
    if (sample == null) {
      return;
    }
    ModelService model = served.model;
    BufferAllocator warmUpAllocator =
        allocator.newChildAllocator("warm-up-" + model.name() + ":" + model.version(), 0,
            callMemoryLimit);
    InputSchemaCheck check =
        new InputSchemaCheck(model.name(), model.inputSchema(), new InputSchemaCheck.LastChecked());
    try {
      CallContext context =
          new CallContext(warmUpAllocator, model.name(), model.version(), Map.of(), Context.ROOT);
      check.checkSchema(sample.getSchema(), null);
      VectorSchemaRoot conformed = check.conform(sample);
      VectorSchemaRoot output = model.predict(context, conformed);
      try {
        if (output == null || output.getRowCount() != sample.getRowCount()) {
          throw new IllegalStateException(
              "model " + model + " returned no batch or the wrong number of rows for its warm-up"
                  + " batch");
        }
      } finally {
        if (output != null && output != conformed && output != sample) {
          output.close();
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException("model " + model + " failed to warm up: " + e, e);
    } finally {
      check.releaseDecoded();
      CallAllocators.release(warmUpAllocator);
    }
  }

  private void publish(ServedModel added, boolean replace) {
    ModelService model = added.model;
    List<ServedModel> drained = new ArrayList<>();
    synchronized (changes) {
      checkOpen();
      checkChange(model.name(), model.version(), replace);
      Snapshot current = published;
      Map<ModelService, ServedModel> served = new IdentityHashMap<>(current.served);
      List<ModelService> models = new ArrayList<>();
      for (ModelService existing : current.registry.all()) {
        boolean sameVersion =
            existing.name().equals(model.name()) && existing.version().equals(model.version());
        if (sameVersion) {
          drained.add(current.served.get(existing));
        } else {
          models.add(existing);
        }
      }
      models.add(model);
      served.put(model, added);
      Snapshot next = snapshotOf(models, served);
      VersionPolicy policy = policies.getOrDefault(model.name(), VersionPolicy.all());
      List<String> kept = policy.select(next.registry.versions(model.name()));
      List<ModelService> admitted = new ArrayList<>();
      for (ModelService candidate : models) {
        if (candidate.name().equals(model.name()) && !kept.contains(candidate.version())) {
          drained.add(served.get(candidate));
        } else {
          admitted.add(candidate);
        }
      }
      added.serving();
      published = snapshotOf(admitted, served);
    }
    drained.forEach(this::drain);
    notifyListeners();
  }

  /** Refuses a change that cannot be made; call with the lock held. */
  private void checkChange(String name, String version, boolean replace) {
    boolean hosted = published.registry.versions(name).contains(version);
    if (replace && !hosted) {
      throw new IllegalArgumentException(
          "model '" + name + "' version '" + version + "' is not served, so it cannot be replaced");
    }
    if (!replace && hosted) {
      throw new IllegalArgumentException(
          "model '" + name + "' version '" + version + "' is served already; replace it instead");
    }
    VersionPolicy policy = policies.getOrDefault(name, VersionPolicy.all());
    List<String> versions = new ArrayList<>(published.registry.versions(name));
    if (!hosted) {
      versions.add(version);
      versions.sort(ModelRegistry.versionOrder(versions));
    }
    if (!policy.select(versions).contains(version)) {
      throw new IllegalArgumentException(
          "model '"
              + name
              + "' version '"
              + version
              + "' is not admitted by its version policy "
              + policy);
    }
  }

  private void drain(ServedModel served) {
    served.drain();
    if (!served.closed().isDone()) {
      CompletableFuture.delayedExecutor(drainGracePeriod.toNanos(), TimeUnit.NANOSECONDS)
          .execute(
              () -> {
                if (!served.closed().isDone()) {
                  logger.log(
                      Level.WARNING,
                      "model " + served.model + " still had calls after its drain grace period of "
                          + drainGracePeriod + "; they fail at their next batch");
                  served.retire();
                }
              });
    }
  }

  private void notifyListeners() {
    for (Runnable listener : listeners) {
      try {
        listener.run();
      } catch (RuntimeException e) {
        logger.log(Level.WARNING, "a model catalog listener failed", e);
      }
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("the service is closed");
    }
  }

  /** The live versions by name, then version in the registry's order (a draining one first). */
  private List<ServedModel> sortedLive() {
    Map<String, List<ServedModel>> byName = new TreeMap<>();
    for (ServedModel served : live) {
      byName.computeIfAbsent(served.model.name(), n -> new ArrayList<>()).add(served);
    }
    List<ServedModel> result = new ArrayList<>(live.size());
    for (List<ServedModel> versions : byName.values()) {
      List<String> names = new ArrayList<>();
      versions.forEach(served -> names.add(served.model.version()));
      // A stable sort: a draining version stays before its replacement, which was added later.
      versions.sort(
          Comparator.comparing(served -> served.model.version(), ModelRegistry.versionOrder(names)));
      result.addAll(versions);
    }
    return result;
  }

  private List<ModelStatsRecorder> recorders() {
    List<ModelStatsRecorder> recorders = new ArrayList<>();
    live.forEach(served -> recorders.add(served.stats));
    return recorders;
  }

  private static Snapshot snapshotOf(
      List<ModelService> models, Map<ModelService, ServedModel> served) {
    Map<ModelService, ServedModel> kept = new IdentityHashMap<>();
    for (ModelService model : models) {
      kept.put(model, served.get(model));
    }
    return new Snapshot(new ModelRegistry(models), kept);
  }

  private static void closeQuietly(ModelService model) {
    try {
      model.close();
    } catch (RuntimeException e) {
      logger.log(Level.WARNING, "model " + model + " failed to close", e);
    }
  }
}
