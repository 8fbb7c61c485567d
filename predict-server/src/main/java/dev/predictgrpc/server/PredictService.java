/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.ArrowSupport;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.internal.CallGuard;
import dev.predictgrpc.server.internal.CallIdentity;
import dev.predictgrpc.server.internal.ModelCatalog;
import dev.predictgrpc.server.internal.ModelRegistry;
import dev.predictgrpc.server.internal.PredictionServiceImpl;
import dev.predictgrpc.server.internal.StatusMapper;
import dev.predictgrpc.server.internal.StatsSnapshot;
import io.grpc.BindableService;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * The {@code predictgrpc.v1.PredictionService} for a set of models, as a gRPC service you can mount
 * on any {@link io.grpc.Server}, including the in-process transport.
 *
 * <pre>{@code
 * PredictService service = PredictService.builder(allocator).addModel(new IrisModel()).build();
 * Server server = ServerBuilder.forPort(8980).addService(service).build().start();
 * ...
 * server.shutdown().awaitTermination();
 * service.close();
 * }</pre>
 *
 * <p>{@link Builder#build()} starts every model; {@link #close()} closes them and releases the
 * service's allocator, so close the service only after the gRPC server serving it has terminated.
 * {@link PredictServer} does all of this for you.
 *
 * <p>Models added with {@link Batching} have their concurrent requests merged into one model call
 * (see {@link Batching}). Every model's statistics are available from {@link #statistics()}, from
 * the {@code GetModelStatistics} RPC, and as OpenTelemetry metrics when {@link
 * Builder#openTelemetry} is set.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class PredictService implements BindableService, AutoCloseable {
  private static final Logger logger = Logger.getLogger(PredictService.class.getName());

  /**
   * How long {@link #close()} lets a model finish a merged batch it is scoring, and calls that are
   * unwinding release their memory.
   */
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(5);

  private final ModelCatalog catalog;
  private final ModelManager manager;
  private final BufferAllocator allocator;
  private final ServerLimits limits;
  private final PredictionServiceImpl impl;
  private final CallIdentity identity;
  private final CallGuard guard;
  private boolean closed;

  private PredictService(ModelCatalog catalog, BufferAllocator allocator, Builder builder) {
    this.catalog = catalog;
    this.manager = new ModelManager(catalog);
    this.allocator = allocator;
    this.limits = builder.limits;
    this.impl = new PredictionServiceImpl(catalog, allocator, limits, builder.authorizer);
    this.identity = new CallIdentity(builder.authenticator);
    this.guard = new CallGuard(limits, impl::discardUndelivered);
  }

  /**
   * Starts building a service. Calls take their Arrow memory from a child of {@code allocator}
   * named {@code predict-service}, whose limit is {@link ServerLimits#maxServerMemoryBytes()};
   * the service does not take ownership of {@code allocator} itself.
   */
  public static Builder builder(BufferAllocator allocator) {
    return new Builder(requireNonNull(allocator, "allocator"));
  }

  /**
   * The service definition, behind the interceptor that authenticates callers (when an {@link
   * Authenticator} is set) and identifies clients for per-client limits, and behind the call guard
   * that ends calls whose client stalls ({@link ServerLimits#firstMessageTimeout()}, {@link
   * ServerLimits#streamIdleTimeout()}). The guard comes with the service, so it also protects a
   * service mounted on a server of your own; the transport limits do not (see {@link
   * ServerLimits}).
   */
  @Override
  public ServerServiceDefinition bindService() {
    // The guard is outermost: its clock starts before authentication, and a call that
    // authentication rejects is closed through it, so it stops watching that call too.
    return ServerInterceptors.intercept(impl.zeroCopyDefinition(), identity, guard);
  }

  /**
   * The KServe Open Inference Protocol, {@code inference.GRPCInferenceService}, over this service's
   * models: the same models, memory limits, authentication, authorization, statistics and batching,
   * mapped as {@link OpenInference} describes. Mount it on the same server as this service:
   *
   * <pre>{@code
   * ServerBuilder.forPort(8980).addService(service).addService(service.openInferenceService())
   * }</pre>
   *
   * <p>Each call returns a new binding; they share this service's state. The service is closed with
   * this one ({@link #close()}).
   *
   * @since 0.2
   */
  public BindableService openInferenceService() {
    ServerServiceDefinition definition = impl.openInference().guardedDefinition();
    return () -> ServerInterceptors.intercept(definition, identity, guard);
  }

  /** Puts {@code other} (health, reflection) behind this service's call guard. */
  ServerServiceDefinition guarded(ServerServiceDefinition other) {
    return ServerInterceptors.intercept(other, guard);
  }

  /**
   * Wraps another service (health, reflection) so that it requires the same authentication as
   * this one; without an authenticator, returns it unchanged.
   */
  public ServerServiceDefinition authenticated(BindableService other) {
    return ServerInterceptors.intercept(other, identity);
  }

  /**
   * The models this service hosts, to add, replace and remove versions while it runs; see {@link
   * ModelManager}.
   */
  public ModelManager models() {
    return manager;
  }

  /** Runs {@code listener} after every change to the hosted versions or their states. */
  void onModelsChanged(Runnable listener) {
    catalog.addListener(listener);
  }


  /** The limits this service enforces. */
  public ServerLimits limits() {
    return limits;
  }

  /** Arrow memory held by calls in progress right now, in bytes. */
  public long allocatedBytes() {
    return allocator.getAllocatedMemory();
  }

  /** The most Arrow memory calls have held at once since the service was built, in bytes. */
  public long peakAllocatedBytes() {
    return allocator.getPeakMemoryAllocation();
  }

  /**
   * A snapshot of every hosted model version's statistics since the service was built, by name
   * then version (oldest first).
   */
  public List<ModelStats> statistics() {
    List<ModelStats> stats = new ArrayList<>();
    catalog.statistics().forEach(s -> stats.add(toModelStats(s)));
    return stats;
  }

  /**
   * A snapshot of one model version's statistics.
   *
   * @param version the version, or empty for the latest (as in a request)
   * @throws PredictException NOT_FOUND if no such model or version is hosted
   */
  public ModelStats statistics(String name, String version) {
    requireNonNull(name, "name");
    requireNonNull(version, "version");
    return toModelStats(catalog.statistics(catalog.registry().resolve(name, version)));
  }

  private static ModelStats toModelStats(StatsSnapshot s) {
    return new ModelStats(
        s.modelName(),
        s.modelVersion(),
        s.state(),
        s.batching(),
        s.requests(),
        s.rows(),
        s.errors(),
        Math.max(0, s.inFlight()),
        Math.max(0, s.queued()),
        toHistogram(s.batchSize()),
        toHistogram(s.queueMicros()),
        toHistogram(s.computeMicros()));
  }

  private static ModelStats.Histogram toHistogram(StatsSnapshot.Histogram h) {
    return new ModelStats.Histogram(h.upperBounds(), h.counts(), h.sum(), h.min(), h.max());
  }

  /**
   * Stops batching (requests still waiting for a batch fail with UNAVAILABLE), closes every model
   * and releases the service's allocator. Call it after the gRPC server has terminated.
   * Idempotent; throws nothing (failures are logged).
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    catalog.close(DRAIN_TIMEOUT, this::awaitCallsReleased);
    try {
      allocator.close();
    } catch (IllegalStateException e) {
      logger.log(Level.SEVERE, "Arrow memory was leaked by calls: " + allocator.toVerboseString(), e);
    }
  }

  private void awaitCallsReleased() {
    try {
      if (!impl.awaitCallsReleased(DRAIN_TIMEOUT)) {
        logger.warning("calls still held Arrow memory " + DRAIN_TIMEOUT.toSeconds()
            + " s after the service began to close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Builds a {@link PredictService}. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private final BufferAllocator allocator;
    private final List<ModelService> models = new ArrayList<>();
    private final Map<ModelService, Batching> batching = new IdentityHashMap<>();
    private ServerLimits limits = ServerLimits.defaults();
    private @Nullable OpenTelemetry openTelemetry;
    private @Nullable Authenticator authenticator;
    private Authorizer authorizer = Authorizer.allowAll();
    private Duration drainGracePeriod = Duration.ofSeconds(30);

    private Builder(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    /**
     * Hosts a model. The service takes ownership: it calls {@link ModelService#start()} in {@link
     * #build()} and {@link ModelService#close()} in {@link PredictService#close()}.
     */
    public Builder addModel(ModelService model) {
      models.add(requireNonNull(model, "model"));
      return this;
    }

    /**
     * Hosts a model with dynamic batching: concurrent requests to it are merged into one model call
     * as {@code batching} says. The service takes ownership of the model as with {@link
     * #addModel(ModelService)}.
     *
     * <p>The model is then called one merged batch at a time from a dispatcher thread of its own
     * (requests that are not merged, see {@link Batching}, still run on the callers' threads). A
     * merged call's {@link PredictContext} has its own allocator, the callers' (equal) parameters,
     * the first caller's principal, the latest of their deadlines, and is cancelled only when every
     * caller has cancelled.
     */
    public Builder addModel(ModelService model, Batching batching) {
      requireNonNull(batching, "batching");
      addModel(model);
      this.batching.put(model, batching);
      return this;
    }

    /**
     * Publishes per-model metrics through {@code openTelemetry} (the application provides the SDK
     * and exporter): counters {@code predictgrpc.model.requests}, {@code .rows}, {@code .errors};
     * gauges {@code predictgrpc.model.in_flight} and {@code .queued}; histograms {@code
     * predictgrpc.model.batch.size}, {@code .queue.duration} and {@code .compute.duration}, each
     * with the attributes {@code model.name} and {@code model.version}. Default: none. For gRPC's
     * own RPC metrics on a server you build yourself, configure {@code
     * io.grpc.opentelemetry.GrpcOpenTelemetry} on it; {@link PredictServer} does both.
     */
    public Builder openTelemetry(OpenTelemetry openTelemetry) {
      this.openTelemetry = requireNonNull(openTelemetry, "openTelemetry");
      return this;
    }

    /**
     * The limits to enforce: sizes, memory, streams per client, and the call guard's timeouts.
     * The transport limits in {@code limits} apply only through {@link PredictServer}. Default
     * {@link ServerLimits#defaults()}.
     */
    public Builder limits(ServerLimits limits) {
      this.limits = requireNonNull(limits, "limits");
      return this;
    }

    /**
     * Requires every call to pass {@code authenticator}; rejected calls end with UNAUTHENTICATED
     * before any model code runs. Default: none, every caller is {@code "anonymous"}.
     */
    public Builder authenticator(Authenticator authenticator) {
      this.authenticator = requireNonNull(authenticator, "authenticator");
      return this;
    }

    /**
     * Decides which principal may call which model; refused calls end with PERMISSION_DENIED.
     * Default {@link Authorizer#allowAll()}.
     */
    public Builder authorizer(Authorizer authorizer) {
      this.authorizer = requireNonNull(authorizer, "authorizer");
      return this;
    }

    /**
     * How long a removed or replaced model version lets its calls in flight finish before it
     * closes anyway (their next batch then fails with UNAVAILABLE). Default 30 s.
     */
    public Builder drainGracePeriod(Duration gracePeriod) {
      requireNonNull(gracePeriod, "gracePeriod");
      if (gracePeriod.isNegative()) {
        throw new IllegalArgumentException(
            "drainGracePeriod: " + gracePeriod + " (expected: >= 0)");
      }
      this.drainGracePeriod = gracePeriod;
      return this;
    }

    /**
     * Checks the configuration, starts every model and creates the service.
     *
     * @throws IllegalArgumentException if two models share a name and version
     * @throws IllegalStateException if this JVM lacks the flags Arrow needs, or a model fails to
     *     start (models already started are closed again)
     */
    public PredictService build() {
      ArrowSupport.checkJvm();
      new ModelRegistry(models); // Names and versions checked before any model starts.
      // Every call's Arrow memory, received input included, comes out of this one budget.
      BufferAllocator child =
          allocator.newChildAllocator(
              StatusMapper.SERVICE_ALLOCATOR_NAME, 0, limits.maxServerMemoryBytes());
      ModelCatalog catalog =
          new ModelCatalog(child, limits.maxCallMemoryBytes(), drainGracePeriod, openTelemetry);
      try {
        for (ModelService model : models) {
          Batching settings = batching.get(model);
          catalog.load(
              model,
              settings == null
                  ? ModelOptions.defaults()
                  : ModelOptions.builder().batching(settings).build(),
              false);
        }
      } catch (RuntimeException e) {
        // Versions already loaded close with the catalog; those not yet loaded never started.
        catalog.close(Duration.ZERO, () -> {});
        child.close();
        throw e;
      }
      return new PredictService(catalog, child, this);
    }
  }
}
