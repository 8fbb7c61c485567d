/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Where the admin service ({@link PredictServer.Builder#adminService}) gets models from: it lists
 * the versions it could load, and turns a name and version into a {@link ModelService}. A model
 * repository on disk is the usual implementation.
 *
 * <pre>{@code
 * ModelLoader loader = new ModelLoader() {
 *   public List<Loadable> loadable() {
 *     return List.of(new Loadable("iris", "1"), new Loadable("iris", "2"));
 *   }
 *   public ModelService load(String name, String version) throws IOException {
 *     return OnnxModel.builder(name, dir.resolve(name).resolve(version).resolve("model.onnx"))
 *         .version(version).build();
 *   }
 * };
 * }</pre>
 *
 * <p>Implementations must be thread-safe: the admin service calls them from gRPC's executor, for
 * concurrent calls.
 *
 * @since 0.2
 */
public interface ModelLoader {
  /** One name and version a loader can load. Immutable. */
  record Loadable(String name, String version) {
    /** Checks the components are present. */
    public Loadable {
      requireNonNull(name, "name");
      requireNonNull(version, "version");
    }
  }

  /** The versions this loader can load now, in any order. */
  List<Loadable> loadable();

  /**
   * Creates, but does not start, the model for {@code name} and {@code version}; its {@code name()}
   * and {@code version()} must return them. The caller takes ownership and starts it. The names
   * come from a remote caller: an implementation that maps them to files must refuse any that would
   * leave its directory.
   *
   * @throws dev.predictgrpc.common.PredictException NOT_FOUND if there is no such version, or
   *     INVALID_ARGUMENT for a name or version it cannot hold; the admin service passes its code
   *     and message to the caller
   * @throws Exception if the model cannot be created (an unreadable file, say); the admin service
   *     answers FAILED_PRECONDITION with the exception's message
   */
  ModelService load(String name, String version) throws Exception;
}
