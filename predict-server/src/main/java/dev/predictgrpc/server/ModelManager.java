/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.internal.ModelCatalog;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Changes the models a running service hosts: add a version, replace one, remove one, list them,
 * and choose per name which versions are served. Obtained from {@link PredictService#models()} or
 * {@link PredictServer#models()}.
 *
 * <pre>{@code
 * ModelManager models = server.models();
 * models.versionPolicy("iris", VersionPolicy.latest(1));
 * models.add(new IrisModel("2"));   // started, warmed up, published; version 1 drains and closes
 * }</pre>
 *
 * <p>The rules, whatever the change:
 *
 * <ul>
 *   <li>A new version is started ({@link ModelService#start()}), scored on its warm-up batch if
 *       {@link ModelOptions} has one, and only then published: listed, reported by metadata and
 *       health, and taking calls. Requests that name no version switch to the new latest
 *       atomically.
 *   <li>A removed or replaced version takes no new calls, lets its calls in flight (streams
 *       included) finish on it for the service's drain grace period, then closes; its statistics
 *       are reported, as DRAINING, until then. Every call is answered entirely by one version.
 *   <li>A version whose start or warm-up fails is closed and never published; whatever it was to
 *       replace keeps serving. The failure is thrown to the caller.
 * </ul>
 *
 * <p>Thread-safe: call it from any thread while calls are in flight. Loading runs on the calling
 * thread; other changes and calls go on meanwhile.
 *
 * @since 0.2
 */
public final class ModelManager {
  private final ModelCatalog catalog;

  ModelManager(ModelCatalog catalog) {
    this.catalog = catalog;
  }

  /**
   * Starts and publishes a new version. The service takes ownership of {@code model}: it closes
   * it when the version is removed or the service closes, or at once if it is refused or fails to
   * start.
   *
   * @throws IllegalArgumentException if the version is served already, or the name's version
   *     policy does not admit it
   * @throws IllegalStateException if the model fails to start or warm up, or the service is closed
   */
  public void add(ModelService model) {
    add(model, ModelOptions.defaults());
  }

  /** As {@link #add(ModelService)}, with batching or a warm-up batch. */
  public void add(ModelService model, ModelOptions options) {
    catalog.load(requireNonNull(model, "model"), requireNonNull(options, "options"), false);
  }

  /**
   * Starts {@code model} and publishes it in place of the served version with its name and version
   * (a reload, say of retrained weights), which then drains and closes. Ownership as for {@link
   * #add(ModelService)}.
   *
   * @throws IllegalArgumentException if no such version is served
   * @throws IllegalStateException if the model fails to start or warm up (the served version then
   *     keeps serving), or the service is closed
   */
  public void replace(ModelService model) {
    replace(model, ModelOptions.defaults());
  }

  /** As {@link #replace(ModelService)}, with batching or a warm-up batch. */
  public void replace(ModelService model, ModelOptions options) {
    catalog.load(requireNonNull(model, "model"), requireNonNull(options, "options"), true);
  }

  /**
   * Unpublishes a version at once; it closes when its calls in flight have finished (or the drain
   * grace period ends).
   *
   * @return completes once the version has closed
   * @throws PredictException NOT_FOUND if no such version is served
   */
  public CompletableFuture<Void> remove(String name, String version) {
    return catalog.remove(requireNonNull(name, "name"), requireNonNull(version, "version"));
  }

  /**
   * The model of a served version, to read its schemas or description. Borrowed: the service owns
   * it and closes it when the version is removed.
   *
   * @param version the version, or empty for the latest
   * @throws PredictException NOT_FOUND if no such version is served
   */
  public ModelService model(String name, String version) {
    return catalog.registry().resolve(requireNonNull(name, "name"), requireNonNull(version, "version"));
  }

  /** Every version not yet closed (loading, serving, draining), by name then version. */
  public List<ModelVersion> list() {
    return catalog.list();
  }

  /**
   * Chooses which versions of {@code name} are served, now and after later changes; versions it no
   * longer admits drain at once. Default {@link VersionPolicy#all()}.
   */
  public void versionPolicy(String name, VersionPolicy policy) {
    catalog.versionPolicy(name, policy);
  }
}
