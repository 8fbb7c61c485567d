/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.server.internal.ModelAdminServiceImpl;
import dev.predictgrpc.server.internal.ServerExecutor;
import dev.predictgrpc.server.internal.TransportLogFilter;
import io.grpc.BindableService;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.opentelemetry.GrpcOpenTelemetry;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.opentelemetry.api.OpenTelemetry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * A gRPC server hosting models: the prediction service, standard health checking ({@code
 * grpc.health.v1}, overall and per model name) and server reflection, over HTTP/2.
 *
 * <pre>{@code
 * try (BufferAllocator allocator = new RootAllocator();
 *     PredictServer server = PredictServer.builder(allocator)
 *         .port(8980)
 *         .addModel(new IrisModel())
 *         .build()
 *         .start()) {
 *   server.awaitTermination();
 * }
 * }</pre>
 *
 * <p>Models can be added, replaced and removed while it runs through {@link #models()}; with
 * {@link Builder#adminService}, also remotely through {@code predictgrpc.v1.ModelAdminService},
 * which is off by default.
 *
 * <p>With {@link Builder#openInferenceProtocol(boolean)}, the same port also serves the KServe Open
 * Inference Protocol, {@code inference.GRPCInferenceService}, over the same models (see {@link
 * OpenInference}).
 *
 * <p>Health: the overall status ({@code ""}), the service name {@code
 * predictgrpc.v1.PredictionService} and each model's name report SERVING once {@link #start()}
 * returns, and NOT_SERVING from {@link #shutdown()} on, so load balancers drain the server.
 *
 * <p>Limits against hostile or broken clients come from {@link Builder#limits}: the prediction
 * service's own (sizes, memory, streams per client), a call guard on the prediction, health and
 * reflection services that ends calls whose client stalls, and connection limits on the HTTP/2
 * transport (calls per connection, idle and maximum connection age, keepalive pings, stream
 * resets). Calls run on a bounded pool the server owns unless you pass an {@link
 * Builder#executor}.
 *
 * <p>This class is thread-safe.
 *
 * @since 0.1
 */
public final class PredictServer implements AutoCloseable {
  /** How long {@link #close()} waits for the executor it owns to finish queued work. */
  private static final Duration EXECUTOR_DRAIN_TIMEOUT = Duration.ofSeconds(5);

  private final Server server;
  private final PredictService service;
  private final HealthStatusManager health;
  private final ModelHealth modelHealth;
  private final Duration shutdownGracePeriod;
  /** The executor this server created, and so owns; null if the application passed one. */
  private final @Nullable ExecutorService ownExecutor;
  private final AtomicBoolean shutdownStarted = new AtomicBoolean();
  private final boolean openInference;

  private PredictServer(Builder builder, PredictService service) {
    this.service = service;
    this.health = new HealthStatusManager();
    this.modelHealth = new ModelHealth(health, service);
    service.onModelsChanged(modelHealth::update);
    this.shutdownGracePeriod = builder.shutdownGracePeriod;
    // Client-triggered transport events must not log a stack trace each.
    TransportLogFilter.install();
    ServerLimits limits = service.limits();
    NettyServerBuilder netty =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(builder.bindAddress, builder.port), builder.credentials())
            .maxInboundMessageSize(limits.maxInboundMessageBytes())
            .addService(ServerInterceptors.intercept(service, builder.interceptors))
            .addService(
                service.guarded(service.authenticated(ProtoReflectionServiceV1.newInstance())))
            // v1alpha as well: grpcurl before 1.8.8, older Postman and other tools ask only it.
            .addService(service.guarded(service.authenticated(alphaReflection())));
    // Kubernetes' gRPC probes send no credentials, so health stays open unless asked otherwise.
    netty.addService(
        service.guarded(
            builder.openHealthChecks
                ? health.getHealthService().bindService()
                : service.authenticated(health.getHealthService())));
    this.openInference = builder.openInference;
    if (openInference) {
      netty.addService(
          ServerInterceptors.intercept(service.openInferenceService(), builder.interceptors));
    }
    if (builder.adminLoader != null) {
      netty.addService(
          service.guarded(
              service.authenticated(
                  new ModelAdminServiceImpl(service.models(), builder.adminLoader,
                      builder.admins))));
    }
    applyTransportLimits(netty, limits);
    if (builder.executor != null) {
      this.ownExecutor = null;
      netty.executor(builder.executor);
    } else {
      this.ownExecutor = ServerExecutor.create(limits.maxServerThreads());
      netty.executor(ownExecutor);
    }
    if (builder.flowControlWindow > 0) {
      netty.flowControlWindow(builder.flowControlWindow);
    }
    if (builder.openTelemetry != null) {
      GrpcOpenTelemetry.newBuilder().sdk(builder.openTelemetry).build().configureServerBuilder(netty);
    }
    builder.extraServices.forEach(netty::addService);
    this.server = netty.build();
  }

  /** The connection limits against clients that open too much, too often or for too long. */
  private static void applyTransportLimits(NettyServerBuilder netty, ServerLimits limits) {
    netty
        .maxConcurrentCallsPerConnection(limits.maxConcurrentCallsPerConnection())
        .maxConnectionIdle(nanos(limits.maxConnectionIdle()), TimeUnit.NANOSECONDS)
        .maxConnectionAge(nanos(limits.maxConnectionAge()), TimeUnit.NANOSECONDS)
        .maxConnectionAgeGrace(nanos(limits.maxConnectionAgeGrace()), TimeUnit.NANOSECONDS)
        .permitKeepAliveTime(nanos(limits.permitKeepAliveTime()), TimeUnit.NANOSECONDS)
        // Pings on a connection without calls only keep an idle connection (and its memory) open.
        .permitKeepAliveWithoutCalls(false)
        .maxRstFramesPerWindow(
            limits.maxResetStreamsPerWindow(),
            (int) Math.min(Integer.MAX_VALUE, limits.resetStreamWindow().toSeconds()));
  }

  /** Nanoseconds, saturated: gRPC treats anything over about 1000 days as "never". */
  private static long nanos(Duration duration) {
    try {
      return duration.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  @SuppressWarnings("deprecation") // The v1alpha service, for tools that know no other.
  private static BindableService alphaReflection() {
    return io.grpc.protobuf.services.ProtoReflectionService.newInstance();
  }

  /**
   * Starts building a server. Calls take their Arrow memory from a child of {@code allocator}; the
   * server does not take ownership of {@code allocator} itself.
   */
  public static Builder builder(BufferAllocator allocator) {
    return new Builder(requireNonNull(allocator, "allocator"));
  }

  /**
   * Binds the port and starts serving; every health status turns SERVING.
   *
   * @return this server
   * @throws IOException if the port cannot be bound; the server is then closed, its models and
   *     Arrow memory released
   * @throws IllegalStateException if already started or shut down
   */
  public PredictServer start() throws IOException {
    try {
      server.start();
    } catch (IOException e) {
      // With the documented try (PredictServer s = builder.build().start()) the caller never gets
      // a server to close, so the models started by build() and the allocator are released here.
      close();
      throw e;
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(PredictionServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    if (openInference) {
      health.setStatus(OpenInference.SERVICE_NAME, ServingStatus.SERVING);
    }
    modelHealth.start();
    return this;
  }

  /**
   * The port the server listens on: the one configured, or the one the system chose for port 0.
   *
   * @throws IllegalStateException if the server has not started
   */
  public int port() {
    return server.getPort();
  }

  /**
   * The models this server hosts, to add, replace and remove versions while it runs; see {@link
   * ModelManager}. Per-model health follows: a name is SERVING while a version of it serves,
   * NOT_SERVING while its last versions drain, and unknown once they are gone.
   */
  public ModelManager models() {
    return service.models();
  }

  /** The prediction service this server hosts, for its statistics and memory figures. */
  public PredictService service() {
    return service;
  }

  /**
   * A snapshot of every hosted model version's statistics, by name then version; see {@link
   * PredictService#statistics()}.
   */
  public List<ModelStats> statistics() {
    return service.statistics();
  }

  /**
   * Starts a graceful shutdown: health turns NOT_SERVING, new calls are refused with UNAVAILABLE,
   * and calls in progress run to completion. Returns at once.
   */
  public PredictServer shutdown() {
    // close() shuts down too; a second enterTerminalState() logs a warning with a stack trace.
    if (shutdownStarted.compareAndSet(false, true)) {
      modelHealth.stop();
      health.enterTerminalState();
    }
    server.shutdown();
    return this;
  }

  /**
   * Waits up to {@code timeout} for the server to terminate.
   *
   * @return true if it terminated
   * @throws InterruptedException if interrupted while waiting
   */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return server.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Waits until the server terminates.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Shuts down gracefully, waits up to the grace period for calls in progress, then cancels what
   * is left, and finally closes the models and the service's allocator, and shuts down the
   * executor the server created (never one passed to {@link Builder#executor}). Throws nothing; if
   * the thread is interrupted it stops waiting and keeps its interrupt flag.
   */
  @Override
  public void close() {
    shutdown();
    try {
      if (!server.awaitTermination(shutdownGracePeriod.toNanos(), TimeUnit.NANOSECONDS)) {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      // Handlers of cancelled calls may still be unwinding on the executor, releasing memory that
      // service.close() waits for; so the executor stops only after the service has closed.
      service.close();
      shutdownOwnExecutor();
    }
  }

  private void shutdownOwnExecutor() {
    if (ownExecutor == null) {
      return;
    }
    ownExecutor.shutdown();
    if (Thread.currentThread().isInterrupted()) {
      ownExecutor.shutdownNow();
      return;
    }
    try {
      if (!ownExecutor.awaitTermination(EXECUTOR_DRAIN_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
        ownExecutor.shutdownNow();
      }
    } catch (InterruptedException e) {
      ownExecutor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Builds a {@link PredictServer}. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private final BufferAllocator allocator;
    private final PredictService.Builder serviceBuilder;
    private final List<ServerInterceptor> interceptors = new ArrayList<>();
    private final List<BindableService> extraServices = new ArrayList<>();
    private int port;
    private String bindAddress = "0.0.0.0";
    private @Nullable Executor executor;
    private Duration shutdownGracePeriod = Duration.ofSeconds(30);
    private byte @Nullable [] certificateChain;
    private byte @Nullable [] privateKey;
    private byte @Nullable [] trustedClientCertificates;
    private boolean openHealthChecks = true;
    private @Nullable OpenTelemetry openTelemetry;
    private int flowControlWindow;
    private @Nullable Authenticator authenticator;
    private @Nullable ModelLoader adminLoader;
    private Authorizer admins = (principal, model) -> false;
    private boolean openInference;

    private Builder(BufferAllocator allocator) {
      this.allocator = allocator;
      this.serviceBuilder = PredictService.builder(allocator);
    }

    /** The TCP port; 0 (the default) lets the system choose a free one, see {@link #port()}. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
      }
      this.port = port;
      return this;
    }

    /** The address to listen on. Default {@code 0.0.0.0}, every interface. */
    public Builder bindAddress(String bindAddress) {
      this.bindAddress = requireNonNull(bindAddress, "bindAddress");
      return this;
    }

    /** Hosts a model; the server starts it on {@link #build()} and closes it on close. */
    public Builder addModel(ModelService model) {
      serviceBuilder.addModel(model);
      return this;
    }

    /**
     * Hosts a model with dynamic batching; see {@link PredictService.Builder#addModel(ModelService,
     * Batching)}.
     */
    public Builder addModel(ModelService model, Batching batching) {
      serviceBuilder.addModel(model, batching);
      return this;
    }

    /**
     * Records metrics through {@code openTelemetry} (the application provides the SDK and
     * exporter): gRPC's own RPC metrics ({@code grpc.server.call.started}, {@code
     * grpc.server.call.duration}, message sizes; see {@code GrpcOpenTelemetry}) and the per-model
     * metrics of {@link PredictService.Builder#openTelemetry}. Default: none.
     */
    public Builder openTelemetry(OpenTelemetry openTelemetry) {
      this.openTelemetry = requireNonNull(openTelemetry, "openTelemetry");
      serviceBuilder.openTelemetry(openTelemetry);
      return this;
    }

    /**
     * The limits to enforce: those of the prediction service (see {@link
     * PredictService.Builder#limits}), the call guard's timeouts, which also cover health and
     * reflection, and the transport's connection limits and thread bound. Default {@link
     * ServerLimits#defaults()}.
     */
    public Builder limits(ServerLimits limits) {
      serviceBuilder.limits(limits);
      return this;
    }

    /**
     * The executor that runs calls, models included. The server does not take ownership of an
     * executor you pass: shut it down yourself after {@link PredictServer#close()}.
     *
     * <p>Default: a pool the server creates and owns, bounded at {@link
     * ServerLimits#maxServerThreads()} daemon threads named {@code predictgrpc-server-N} (idle ones
     * end after a minute), with an unbounded queue for work beyond that; {@link
     * PredictServer#close()} shuts it down once the server has terminated. The bound keeps a flood
     * of calls from starting a thread each. It is generous because threads block: a call to a
     * model with dynamic batching ({@link Batching}) holds its thread while its merged batch
     * forms and runs, so a bound smaller than the callers you want merged caps batch sizes, and
     * calls beyond it wait in the queue. If you pass your own executor, bound it for the same
     * reasons.
     */
    public Builder executor(Executor executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Adds an interceptor around the prediction service (for authentication, logging, metrics).
     * Interceptors run in the reverse order of addition, as with {@link
     * ServerInterceptors#intercept}.
     */
    public Builder intercept(ServerInterceptor interceptor) {
      interceptors.add(requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /**
     * The HTTP/2 flow-control window each connection and stream starts with, in bytes; gRPC then
     * grows it to the bandwidth-delay product it measures. A larger start helps a long fat link
     * from its first bytes; a small one throttles every stream.
     *
     * <p>Default gRPC's 1 MiB, chosen by measurement ({@code bench --sections stream --flow-window
     * N} on loopback, 128 MB table, two rounds of 5 runs on 2 cores, median MB/s echo / score):
     * 1 MiB 540 / 1129 and 470 / 1130; 4 MiB 495 / 1121 and 204 / 910; 16 MiB 356 / 1192 and 355 /
     * 1049; 64 KiB 344 / 498 and 446 / 410. Starting larger bought nothing, since auto-tuning
     * grows the window within the first batches; starting at 64 KiB halved the score stream.
     */
    public Builder flowControlWindow(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("flowControlWindow: " + bytes + " (expected: > 0)");
      }
      this.flowControlWindow = bytes;
      return this;
    }

    /**
     * Hosts another gRPC service on the same port. The connection limits and the executor apply to
     * it; the call guard ({@link ServerLimits#firstMessageTimeout()}, {@link
     * ServerLimits#streamIdleTimeout()}) does not, since its calls may rightly wait on clients.
     */
    public Builder addService(BindableService service) {
      extraServices.add(requireNonNull(service, "service"));
      return this;
    }

    /** How long {@link PredictServer#close()} lets calls in progress finish. Default 30 s. */
    public Builder shutdownGracePeriod(Duration gracePeriod) {
      requireNonNull(gracePeriod, "gracePeriod");
      if (gracePeriod.isNegative()) {
        throw new IllegalArgumentException(
            "shutdownGracePeriod: " + gracePeriod + " (expected: >= 0)");
      }
      this.shutdownGracePeriod = gracePeriod;
      return this;
    }

    /**
     * Serves over TLS with this certificate chain and private key (PEM files; the key in PKCS#8).
     * Default: plaintext.
     *
     * @throws UncheckedIOException if a file cannot be read
     */
    public Builder tls(Path certificateChain, Path privateKey) {
      return tls(read(certificateChain), read(privateKey));
    }

    /**
     * Serves over TLS with this certificate chain and private key (PEM). The streams are read
     * fully now and not closed.
     */
    public Builder tls(InputStream certificateChain, InputStream privateKey) {
      return tls(readAll(certificateChain), readAll(privateKey));
    }

    /**
     * Requires mutual TLS: clients must present a certificate signed by one of these (PEM).
     * Needs {@link #tls}. Pair with {@link Authenticator#clientCertificate()} to use the
     * certificate's subject as the principal.
     */
    public Builder requireClientCertificates(Path trustedCertificates) {
      this.trustedClientCertificates = read(trustedCertificates);
      return this;
    }

    /** As {@link #requireClientCertificates(Path)}, from a stream read fully now, not closed. */
    public Builder requireClientCertificates(InputStream trustedCertificates) {
      this.trustedClientCertificates = readAll(trustedCertificates);
      return this;
    }

    /** Authenticates every call; see {@link PredictService.Builder#authenticator}. */
    public Builder authenticator(Authenticator authenticator) {
      serviceBuilder.authenticator(authenticator);
      this.authenticator = authenticator;
      return this;
    }

    /**
     * Enables the admin service, {@code predictgrpc.v1.ModelAdminService} (documented in {@code
     * predict.proto}): remote callers can load versions from {@code loader} into {@link
     * PredictServer#models()}, unload them, and list the loader's versions with their states.
     * Default: disabled, and its calls answer UNIMPLEMENTED.
     *
     * <p>Every admin call is authenticated by the server's {@link #authenticator} (UNAUTHENTICATED
     * if it refuses), then must be allowed by {@code admins}, which is asked {@code
     * isAllowed(principal, model)} with the model a load or unload names, and with {@code ""} for
     * listing; a refusal is PERMISSION_DENIED. {@code admins} is separate from {@link #authorizer},
     * which decides who may <em>call</em> a model, so that a principal allowed to score is not
     * thereby allowed to replace the model. Without an authenticator every caller is {@code
     * "anonymous"}, which {@link #build()} accepts only when the server listens on a loopback
     * address (see {@link #bindAddress}).
     *
     * <pre>{@code
     * builder.authenticator(Authenticator.bearerTokens(Map.of(opsToken, "ops", appToken, "app")))
     *     .adminService(repository, (principal, model) -> principal.equals("ops"));
     * }</pre>
     *
     * <p>The server does not take ownership of {@code loader}; it takes ownership of every model
     * the loader creates for it.
     *
     * @since 0.2
     */
    public Builder adminService(ModelLoader loader, Authorizer admins) {
      this.adminLoader = requireNonNull(loader, "loader");
      this.admins = requireNonNull(admins, "admins");
      return this;
    }

    /**
     * Also serves the KServe Open Inference Protocol ("v2", as Triton, KServe, MLServer and Seldon
     * speak it), {@code inference.GRPCInferenceService}, on the same port, over the same models,
     * limits, authentication, authorization, statistics and batching; see {@link OpenInference}
     * for how columns map to tensors. Its health service name reports like the prediction
     * service's. Default false.
     *
     * @since 0.2
     */
    public Builder openInferenceProtocol(boolean enabled) {
      this.openInference = enabled;
      return this;
    }

    /** Decides which principal may call which model; see {@link Authorizer}. */
    public Builder authorizer(Authorizer authorizer) {
      serviceBuilder.authorizer(authorizer);
      return this;
    }

    /**
     * Whether health checks skip authentication (default true, so load balancers and Kubernetes
     * probes need no credentials). Reflection always requires what the prediction service does.
     */
    public Builder openHealthChecks(boolean open) {
      this.openHealthChecks = open;
      return this;
    }

    private Builder tls(byte[] chain, byte[] key) {
      this.certificateChain = chain;
      this.privateKey = key;
      return this;
    }

    ServerCredentials credentials() {
      if (certificateChain == null) {
        if (trustedClientCertificates != null) {
          throw new IllegalStateException("requireClientCertificates needs tls(...) as well");
        }
        return InsecureServerCredentials.create();
      }
      try {
        TlsServerCredentials.Builder tls =
            TlsServerCredentials.newBuilder()
                .keyManager(
                    new ByteArrayInputStream(certificateChain), new ByteArrayInputStream(privateKey));
        if (trustedClientCertificates != null) {
          tls.trustManager(new ByteArrayInputStream(trustedClientCertificates))
              .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        }
        return tls.build();
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException("invalid TLS certificate or key: " + e.getMessage(), e);
      }
    }

    private static byte[] read(Path file) {
      try {
        return Files.readAllBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      }
    }

    private static byte[] readAll(InputStream in) {
      try {
        return in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Starts the models and creates the server, not yet listening: call {@link #start()}.
     *
     * <p>A server may start with no model and have models added through {@link
     * PredictServer#models()} or the admin service.
     *
     * @throws IllegalArgumentException if two models share a name and version
     * @throws IllegalStateException if this JVM lacks the flags Arrow needs, a model fails to
     *     start, or the admin service is enabled without an authenticator on a non-loopback
     *     address
     */
    public PredictServer build() {
      if (adminLoader != null && authenticator == null && !isLoopback(bindAddress)) {
        throw new IllegalStateException(
            "adminService without an authenticator would let anyone who can reach "
                + bindAddress + " load and unload models; set an authenticator, or bind to a "
                + "loopback address such as 127.0.0.1");
      }
      return new PredictServer(this, serviceBuilder.build());
    }

    private static boolean isLoopback(String address) {
      try {
        return InetAddress.getByName(address).isLoopbackAddress();
      } catch (UnknownHostException e) {
        return false; // Not resolvable now: not known to be loopback.
      }
    }
  }
}
