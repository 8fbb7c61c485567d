/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.api.v1.ListRepositoryRequest;
import dev.predictgrpc.api.v1.ListRepositoryResponse;
import dev.predictgrpc.api.v1.LoadModelRequest;
import dev.predictgrpc.api.v1.LoadModelResponse;
import dev.predictgrpc.api.v1.ModelAdminServiceGrpc;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.RepositoryModel;
import dev.predictgrpc.api.v1.UnloadModelRequest;
import dev.predictgrpc.api.v1.UnloadModelResponse;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import dev.predictgrpc.server.Authorizer;
import dev.predictgrpc.server.ModelLoader;
import dev.predictgrpc.server.ModelManager;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelState;
import dev.predictgrpc.server.ModelVersion;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The gRPC binding of {@code predictgrpc.v1.ModelAdminService}: loads versions from a {@link
 * ModelLoader} into a {@link ModelManager}, unloads them, and lists both. Mount it behind {@link
 * CallIdentity}, which establishes the principal that the admin {@link Authorizer} judges.
 *
 * <p>Thread-safe: it holds only its collaborators, which are thread-safe; concurrent loads of one
 * version are refused by the manager.
 */
public final class ModelAdminServiceImpl extends ModelAdminServiceGrpc.ModelAdminServiceImplBase {
  private static final Logger logger = Logger.getLogger(ModelAdminServiceImpl.class.getName());

  private final ModelManager models;
  private final ModelLoader loader;
  private final Authorizer admins;

  /** A binding that changes {@code models}, loading from {@code loader}, for {@code admins}. */
  public ModelAdminServiceImpl(ModelManager models, ModelLoader loader, Authorizer admins) {
    this.models = requireNonNull(models, "models");
    this.loader = requireNonNull(loader, "loader");
    this.admins = requireNonNull(admins, "admins");
  }

  @Override
  public void loadModel(LoadModelRequest request, StreamObserver<LoadModelResponse> observer) {
    ignoreCancellation(observer);
    String name = request.getModel().getName();
    try {
      checkName(name);
      String principal = authorize(name, "load");
      String version = request.getModel().getVersion();
      if (version.isEmpty()) {
        version = latestLoadable(name);
      }
      boolean replace = isServing(name, version);
      ModelService model = create(name, version);
      try {
        if (replace) {
          models.replace(model);
        } else {
          models.add(model);
        }
      } catch (IllegalArgumentException | IllegalStateException e) {
        // The manager has closed the model, refused or failed: nothing changed.
        throw new PredictException(Status.Code.FAILED_PRECONDITION, e.getMessage(), e);
      }
      logger.info(
          "principal '"
              + principal
              + "' "
              + (replace ? "reloaded" : "loaded")
              + " model "
              + name
              + ":"
              + version);
      observer.onNext(
          LoadModelResponse.newBuilder()
              .setModel(spec(name, version))
              .setReplaced(replace)
              .build());
      observer.onCompleted();
    } catch (RuntimeException e) {
      fail(observer, e, "load", name);
    }
  }

  @Override
  public void unloadModel(
      UnloadModelRequest request, StreamObserver<UnloadModelResponse> observer) {
    ignoreCancellation(observer);
    String name = request.getModel().getName();
    try {
      checkName(name);
      String principal = authorize(name, "unload");
      String version = request.getModel().getVersion();
      List<String> versions = new ArrayList<>();
      if (version.isEmpty()) {
        for (ModelVersion served : models.list()) {
          if (served.name().equals(name) && served.state() == ModelState.SERVING) {
            versions.add(served.version());
          }
        }
        if (versions.isEmpty()) {
          throw new PredictException(
              Status.Code.NOT_FOUND, "model '" + ClientText.name(name) + "' is not served here");
        }
      } else {
        versions.add(version);
      }
      UnloadModelResponse.Builder response = UnloadModelResponse.newBuilder();
      for (String v : versions) {
        // NOT_FOUND if it is not served (or another caller has just unloaded it).
        models.remove(name, v);
        response.addModels(spec(name, v));
        logger.info("principal '" + principal + "' unloaded model " + name + ":" + v);
      }
      observer.onNext(response.build());
      observer.onCompleted();
    } catch (RuntimeException e) {
      fail(observer, e, "unload", name);
    }
  }

  @Override
  public void listRepository(
      ListRepositoryRequest request, StreamObserver<ListRepositoryResponse> observer) {
    try {
      authorize("", "list the repository of");
      Map<String, Map<String, RepositoryModel.Builder>> byName = new TreeMap<>();
      for (ModelLoader.Loadable loadable : loader.loadable()) {
        entry(byName, loadable.name(), loadable.version()).setInRepository(true);
      }
      for (ModelVersion hosted : models.list()) {
        RepositoryModel.Builder entry = entry(byName, hosted.name(), hosted.version());
        if (rank(hosted.state()) > rank(entry.getState())) {
          entry.setState(PredictionServiceImpl.toProto(hosted.state()));
        }
      }
      ListRepositoryResponse.Builder response = ListRepositoryResponse.newBuilder();
      for (Map<String, RepositoryModel.Builder> versions : byName.values()) {
        List<String> order = new ArrayList<>(versions.keySet());
        order.sort(ModelRegistry.versionOrder(order));
        order.forEach(v -> response.addModels(versions.get(v)));
      }
      observer.onNext(response.build());
      observer.onCompleted();
    } catch (RuntimeException e) {
      fail(observer, e, "list", "");
    }
  }

  /**
   * A load or unload that has begun runs to its end whatever the caller does, so a cancelled
   * caller's response is dropped rather than failing the handler.
   */
  private static void ignoreCancellation(StreamObserver<?> observer) {
    if (observer instanceof ServerCallStreamObserver) {
      ((ServerCallStreamObserver<?>) observer).setOnCancelHandler(() -> {});
    }
  }

  private static void checkName(String name) {
    if (name.isEmpty()) {
      throw new PredictException(Status.Code.INVALID_ARGUMENT, "the request names no model");
    }
  }

  /**
   * @return the calling principal
   * @throws PredictException PERMISSION_DENIED if the admin authorizer refuses it
   */
  private String authorize(String model, String action) {
    String principal = CallIdentity.principal();
    if (!admins.isAllowed(principal, model)) {
      throw new PredictException(
          Status.Code.PERMISSION_DENIED,
          "principal '"
              + ClientText.name(principal)
              + "' may not "
              + action
              + (model.isEmpty() ? " models" : " model '" + ClientText.name(model) + "'")
              + " (the admin authorizer refused)");
    }
    return principal;
  }

  /** The greatest version the loader lists for {@code name}. */
  private String latestLoadable(String name) {
    List<String> versions = new ArrayList<>();
    for (ModelLoader.Loadable loadable : loader.loadable()) {
      if (loadable.name().equals(name)) {
        versions.add(loadable.version());
      }
    }
    if (versions.isEmpty()) {
      throw new PredictException(
          Status.Code.NOT_FOUND,
          "the repository holds no version of model '" + ClientText.name(name) + "'");
    }
    return versions.stream().max(ModelRegistry.versionOrder(versions)).orElseThrow();
  }

  private boolean isServing(String name, String version) {
    for (ModelVersion hosted : models.list()) {
      if (hosted.name().equals(name)
          && hosted.version().equals(version)
          && hosted.state() == ModelState.SERVING) {
        return true;
      }
    }
    return false;
  }

  /** The loader's model, not started; failures become the statuses the proto documents. */
  private ModelService create(String name, String version) {
    ModelService model;
    try {
      model = loader.load(name, version);
    } catch (PredictException e) {
      throw e;
    } catch (Exception e) {
      throw new PredictException(
          Status.Code.FAILED_PRECONDITION,
          "model '"
              + ClientText.name(name)
              + "' version '"
              + ClientText.name(version)
              + "' could not be loaded: "
              + e,
          e);
    }
    if (model == null || !name.equals(model.name()) || !version.equals(model.version())) {
      if (model != null) {
        model.close();
      }
      throw new PredictException(
          Status.Code.INTERNAL,
          "the model loader returned "
              + model
              + " for model '"
              + ClientText.name(name)
              + "' version '"
              + ClientText.name(version)
              + "'");
    }
    return model;
  }

  private static void fail(
      StreamObserver<?> observer, RuntimeException e, String action, String name) {
    Status status;
    if (e instanceof PredictException) {
      status = ((PredictException) e).toStatus();
      if (status.getCode() == Status.Code.FAILED_PRECONDITION
          || status.getCode() == Status.Code.INTERNAL) {
        logger.log(Level.WARNING, "could not " + action + " model '" + name + "'", e);
      }
    } else {
      // A loader or model bug: the admin caller is trusted, but its message may still hold
      // internals, so it gets the type and the server log gets the trace.
      logger.log(Level.WARNING, "could not " + action + " model '" + name + "'", e);
      status =
          Status.INTERNAL.withDescription(
              "could not " + action + " model '" + name + "': " + e.getClass().getName());
    }
    String description = status.getDescription();
    observer.onError(
        (description == null ? status : status.withDescription(ClientText.message(description)))
            .asRuntimeException());
  }

  private static RepositoryModel.Builder entry(
      Map<String, Map<String, RepositoryModel.Builder>> byName, String name, String version) {
    return byName
        .computeIfAbsent(name, n -> new LinkedHashMap<>())
        .computeIfAbsent(version, v -> RepositoryModel.newBuilder().setModel(spec(name, v)));
  }

  /** Which of two states of one name and version to report: serving over loading over draining. */
  private static int rank(dev.predictgrpc.api.v1.ModelState state) {
    switch (state) {
      case MODEL_STATE_SERVING:
        return 3;
      case MODEL_STATE_LOADING:
        return 2;
      case MODEL_STATE_DRAINING:
        return 1;
      default:
        return 0;
    }
  }

  private static int rank(ModelState state) {
    return rank(PredictionServiceImpl.toProto(state));
  }

  private static ModelSpec spec(String name, String version) {
    return ModelSpec.newBuilder().setName(name).setVersion(version).build();
  }
}
