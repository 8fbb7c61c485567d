/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.api.v1.BodyCompressionCodec;
import dev.predictgrpc.api.v1.StreamHeader;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import dev.predictgrpc.arrow.IpcCompression;
import dev.predictgrpc.client.internal.BatchSource;
import dev.predictgrpc.client.internal.BearerToken;
import dev.predictgrpc.client.internal.ChannelConfig;
import dev.predictgrpc.client.internal.StaticAddressesResolverProvider;
import dev.predictgrpc.client.internal.Statuses;
import dev.predictgrpc.client.internal.StreamSettings;
import dev.predictgrpc.client.internal.StreamingCall;
import dev.predictgrpc.common.ArrowSupport;
import dev.predictgrpc.common.PredictException;
import io.grpc.CallCredentials;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.jspecify.annotations.Nullable;

/**
 * A client for a predict-grpc server: scores Arrow batches remotely, one request at a time or as a
 * stream of any size.
 *
 * <pre>{@code
 * try (PredictClient client = PredictClient.builder("localhost:8980", allocator).build();
 *     VectorSchemaRoot input = Batches.builder(allocator)
 *         .float32("x", new float[] {1f, 2f})
 *         .build();
 *     VectorSchemaRoot output = client.predict(ModelRef.of("double"), input)) {
 *   System.out.println(output.contentToTSVString());
 * }
 * }</pre>
 *
 * <p><b>Share one client.</b> This class is thread-safe, and one instance multiplexes every call
 * over its channel's HTTP/2 connections; create one per target and share it.
 *
 * <p><b>Ownership.</b> A client built with {@link #builder(String, BufferAllocator)} owns its
 * channel and shuts it down in {@link #close()}; one made with {@link #create(Channel,
 * BufferAllocator)} borrows the channel and never shuts it down. Either way the client allocates
 * from a child of the given allocator, closed in {@link #close()}: close every result before the
 * client.
 *
 * <p><b>Per call.</b> {@link ModelRef} names the model, version and parameters; {@link
 * PredictOptions} sets a call's own deadline (and may set the version and parameters too), and the
 * overloads that take it answer with a {@link Prediction}, which also names the version that
 * answered:
 *
 * <pre>{@code
 * PredictOptions options = PredictOptions.defaults().withDeadline(Duration.ofMillis(200));
 * try (Prediction p = client.predict("iris", input, options)) {
 *   System.out.println(p.modelVersion() + ": " + p.root().contentToTSVString());
 * }
 * }</pre>
 *
 * <p><b>Errors.</b> Every failed call throws {@link PredictException} with the server's status
 * code and message; {@link PredictException#isNotFound()} and its siblings name the common codes.
 *
 * <p><b>Retries and resumes.</b> The client itself has no catch-and-retry loop, but it is not
 * retry-free. A client from {@link #builder(String, BufferAllocator)} installs a default gRPC
 * service config under which gRPC retries the idempotent unary calls ({@code predict}, {@code
 * listModels}, {@code modelInfo}) on UNAVAILABLE, up to 4 attempts with exponential backoff, so
 * {@link PredictException#isUnavailable()} means every attempt failed ({@link
 * Builder#serviceConfig} replaces that config; a client from {@link #create(Channel,
 * BufferAllocator)} uses whatever config its channel has). Statistics calls are not retried.
 * Streams are never retried from the start: a stream whose server fails with UNAVAILABLE (or a
 * reset this side did not ask for) resumes on a new call, re-sending only the batches whose results
 * had not arrived, so every result is delivered exactly once and in order (by default up to 3
 * resumes per stream; see {@link Builder#streamResumeAttempts} and {@link
 * Builder#maxReplayBytes}). Other failures reach the caller at once.
 *
 * @since 0.1
 */
public final class PredictClient implements AutoCloseable {
  private static final AtomicLong callIds = new AtomicLong();

  private final Channel channel;
  private final @Nullable ManagedChannel ownedChannel;
  private final BufferAllocator allocator;
  private final StreamSettings streamSettings;
  private final @Nullable Duration deadline;
  private final boolean derived;
  private final UnaryCalls unary;

  private PredictClient(
      Channel channel,
      @Nullable ManagedChannel ownedChannel,
      BufferAllocator allocator,
      StreamSettings streamSettings,
      @Nullable Duration deadline,
      boolean derived) {
    this.channel = channel;
    this.ownedChannel = ownedChannel;
    this.allocator = allocator;
    this.streamSettings = streamSettings;
    this.deadline = deadline;
    this.derived = derived;
    this.unary = new UnaryCalls(channel, allocator);
  }

  /**
   * Starts building a client that owns a new channel to {@code target} ({@code host:port}, or any
   * gRPC target URI such as {@code dns:///predict.ml.svc:8980}). Plaintext by default.
   *
   * <p>The client allocates from a child of {@code allocator} and does not take ownership of
   * {@code allocator} itself.
   */
  public static Builder builder(String target, BufferAllocator allocator) {
    return new Builder(requireNonNull(target, "target"), requireNonNull(allocator, "allocator"));
  }

  /**
   * Starts building a client that spreads calls over several replicas ({@code host:port} each):
   * round_robin over the healthy ones, with unary calls retried on another replica when one is
   * UNAVAILABLE. Equivalent to {@link #builder(String, BufferAllocator)} with the target {@code
   * static:///host1:port1,host2:port2}; for replicas behind DNS use {@code dns:///name:port}.
   */
  public static Builder builder(List<String> addresses, BufferAllocator allocator) {
    return builder(StaticAddressesResolverProvider.target(List.copyOf(addresses)), allocator);
  }

  /**
   * Creates a client over a channel the caller owns; the client never shuts it down.
   *
   * <p>The client allocates from a child of {@code allocator} and does not take ownership of
   * {@code allocator} itself.
   */
  public static PredictClient create(Channel channel, BufferAllocator allocator) {
    requireNonNull(channel, "channel");
    requireNonNull(allocator, "allocator");
    ArrowSupport.checkJvm();
    return new PredictClient(
        channel, null, newClientAllocator(allocator), StreamSettings.defaults(), null, false);
  }

  /**
   * A client sharing this one's channel and allocator whose calls have the given deadline each.
   * Closing the derived client does nothing; close this one. For one call's deadline, pass {@link
   * PredictOptions#withDeadline} to that call instead.
   */
  public PredictClient withDeadline(Duration deadline) {
    return new PredictClient(
        channel, null, allocator, streamSettings, checkDeadline(deadline), true);
  }

  /**
   * A client sharing this one's channel and allocator whose streams compress what they send with
   * {@code input} and ask the server to compress results with {@code output}; see {@link
   * Builder#inputCompression} and {@link Builder#outputCompression}. For clients made with {@link
   * #create(Channel, BufferAllocator)}, which have no builder. Closing the derived client does
   * nothing; close this one.
   *
   * @since 0.2
   */
  public PredictClient withCompression(IpcCompression input, IpcCompression output) {
    StreamSettings settings =
        new StreamSettings(
            streamSettings.maxChunkBytes(),
            streamSettings.resumeAttempts(),
            streamSettings.maxReplayBytes(),
            requireNonNull(input, "input"),
            requireNonNull(output, "output"));
    return new PredictClient(channel, null, allocator, settings, deadline, true);
  }

  /**
   * Scores one small table in a single request and waits for the result.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the returned root passes to the caller, who must close it.
   *
   * @throws PredictException if the call fails
   */
  public VectorSchemaRoot predict(ModelRef model, VectorSchemaRoot input) {
    return unary.predict(model, input, callOptions()).takeRoot();
  }

  /** Scores one small table on the latest version of the named model; see {@link #predict}. */
  public VectorSchemaRoot predict(String model, VectorSchemaRoot input) {
    return predict(ModelRef.of(model), input);
  }

  /**
   * Scores one small table with this call's own options, and tells which version answered.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the returned prediction passes to the caller, who must close it.
   *
   * @param options applied on top of {@code model} and the client's deadline; see {@link
   *     PredictOptions}
   * @throws PredictException if the call fails
   * @since 0.1
   */
  public Prediction predict(ModelRef model, VectorSchemaRoot input, PredictOptions options) {
    requireNonNull(options, "options");
    return unary.predict(
        options.apply(requireNonNull(model, "model")), input, options.callOptions(deadline));
  }

  /**
   * Scores one small table on the named model with this call's own options; see {@link
   * #predict(ModelRef, VectorSchemaRoot, PredictOptions)}.
   *
   * @since 0.1
   */
  public Prediction predict(String model, VectorSchemaRoot input, PredictOptions options) {
    return predict(ModelRef.of(model), input, options);
  }

  /**
   * Scores one small table without blocking. The input is serialized before this method returns,
   * so the caller may close it at once. Cancelling the future cancels the call.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the root the future completes with passes to the caller, who must close
   * it. The future fails with {@link PredictException}.
   */
  public CompletableFuture<VectorSchemaRoot> predictAsync(ModelRef model, VectorSchemaRoot input) {
    return unary.predictAsync(
        model, input, callOptions(), Prediction::takeRoot, VectorSchemaRoot::close);
  }

  /**
   * Scores one small table without blocking, with this call's own options; see {@link
   * #predictAsync(ModelRef, VectorSchemaRoot)}.
   *
   * <p>The caller retains ownership of {@code input}; it is not retained after this method
   * returns. Ownership of the prediction the future completes with passes to the caller, who must
   * close it. The future fails with {@link PredictException}.
   *
   * @since 0.1
   */
  public CompletableFuture<Prediction> predictAsync(
      ModelRef model, VectorSchemaRoot input, PredictOptions options) {
    requireNonNull(options, "options");
    return unary.predictAsync(
        options.apply(requireNonNull(model, "model")),
        input,
        options.callOptions(deadline),
        prediction -> prediction,
        Prediction::close);
  }

  /**
   * Streams batches from {@code input} through the model and returns the results as they come.
   * The client reads the next input batch only when the transport can take it, on gRPC's
   * callback thread, so memory stays bounded however large the input.
   *
   * <p>{@code input} is borrowed: the client reads it until it is exhausted or the stream ends;
   * close it after closing the returned stream.
   */
  public PredictionStream predictStream(ModelRef model, ArrowReader input) {
    return predictStream(model, input, PredictOptions.defaults());
  }

  /**
   * As {@link #predictStream(ModelRef, ArrowReader)}, with this call's own options. A deadline
   * bounds the whole stream, resumes included.
   *
   * @since 0.1
   */
  public PredictionStream predictStream(
      ModelRef model, ArrowReader input, PredictOptions options) {
    requireNonNull(input, "input");
    return new PredictionStream(startStream(model, options, BatchSource.of(input)));
  }

  /**
   * Streams batches from an iterator through the model; see {@link #predictStream(ModelRef,
   * ArrowReader)}. Each batch is borrowed until the iterator is advanced again (it may be the same
   * root, refilled); the client never closes them. The iterator runs on gRPC's callback thread.
   */
  public PredictionStream predictStream(
      ModelRef model, Iterator<? extends VectorSchemaRoot> input) {
    return predictStream(model, input, PredictOptions.defaults());
  }

  /**
   * As {@link #predictStream(ModelRef, Iterator)}, with this call's own options. A deadline bounds
   * the whole stream, resumes included.
   *
   * @since 0.1
   */
  public PredictionStream predictStream(
      ModelRef model, Iterator<? extends VectorSchemaRoot> input, PredictOptions options) {
    requireNonNull(input, "input");
    return new PredictionStream(startStream(model, options, BatchSource.of(input)));
  }

  /**
   * Opens a stream whose input the caller pushes with {@link PredictCall#write}; read its results
   * from another thread.
   */
  public PredictCall openStream(ModelRef model) {
    return openStream(model, PredictOptions.defaults());
  }

  /**
   * As {@link #openStream(ModelRef)}, with this call's own options. A deadline bounds the whole
   * stream, resumes included.
   *
   * @since 0.1
   */
  public PredictCall openStream(ModelRef model, PredictOptions options) {
    return new PredictCall(startStream(model, options, null));
  }

  /**
   * Lists the server's models.
   *
   * @throws PredictException if the call fails
   */
  public List<ModelInfo> listModels() {
    return unary.listModels(callOptions());
  }

  /**
   * Describes one model version, with its declared schemas.
   *
   * @throws PredictException NOT_FOUND for an unknown model or version
   */
  public ModelInfo modelInfo(ModelRef model) {
    return unary.modelInfo(model, callOptions());
  }

  /**
   * The serving statistics of every model version the server hosts that this caller may call: the
   * {@code GetModelStatistics} RPC. Figures are cumulative since the server started.
   *
   * @throws PredictException if the call fails
   * @since 0.1
   */
  public List<ModelStats> statistics() {
    return unary.statistics(null, callOptions());
  }

  /**
   * The serving statistics of one model: of the version {@code model} names, or of every version
   * it hosts when {@code model} names none (unlike {@link #predict}, where no version means the
   * latest, because older versions keep serving callers that pin them). Parameters are ignored.
   *
   * @throws PredictException NOT_FOUND for an unknown model or version, PERMISSION_DENIED for a
   *     model the caller may not call
   * @since 0.1
   */
  public List<ModelStats> statistics(ModelRef model) {
    return unary.statistics(requireNonNull(model, "model"), callOptions());
  }

  /**
   * Shuts down the channel if this client owns it, and closes the client's allocator.
   *
   * @throws IllegalStateException if results from this client are still open (a leak)
   */
  @Override
  public void close() {
    if (derived) {
      return;
    }
    if (ownedChannel != null) {
      ChannelConfig.shutdown(ownedChannel);
    }
    allocator.close();
  }

  private StreamingCall startStream(
      ModelRef model, PredictOptions options, @Nullable BatchSource source) {
    requireNonNull(options, "options");
    model = options.apply(requireNonNull(model, "model"));
    StreamHeader header =
        StreamHeader.newBuilder()
            .setModel(model.toSpec())
            .putAllParameters(model.parameters())
            .setOutputCompression(codecOf(streamSettings.outputCompression()))
            .build();
    BufferAllocator callAllocator =
        allocator.newChildAllocator("stream-" + callIds.incrementAndGet(), 0, Long.MAX_VALUE);
    try {
      return StreamingCall.start(
          channel, options.callOptions(deadline), callAllocator, streamSettings, header, source);
    } catch (RuntimeException e) {
      throw Statuses.toPredictException(e);
    }
  }

  private static BodyCompressionCodec codecOf(IpcCompression compression) {
    switch (compression) {
      case LZ4_FRAME:
        return BodyCompressionCodec.BODY_COMPRESSION_CODEC_LZ4_FRAME;
      case ZSTD:
        return BodyCompressionCodec.BODY_COMPRESSION_CODEC_ZSTD;
      default:
        return BodyCompressionCodec.BODY_COMPRESSION_CODEC_UNSPECIFIED;
    }
  }

  private CallOptions callOptions() {
    return PredictOptions.defaults().callOptions(deadline);
  }

  private static Duration checkDeadline(Duration deadline) {
    requireNonNull(deadline, "deadline");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline: " + deadline + " (expected: > 0)");
    }
    return deadline;
  }

  private static BufferAllocator newClientAllocator(BufferAllocator parent) {
    return parent.newChildAllocator("predict-client-" + callIds.incrementAndGet(), 0, Long.MAX_VALUE);
  }

  /**
   * Builds a {@link PredictClient} that owns its channel. Not thread-safe.
   *
   * <p>Transport settings (TLS, credentials, authority, service config, message limit) are
   * recorded into a {@link ChannelConfig}, which also makes the channel; the builder itself keeps
   * only the per-call and streaming settings.
   *
   * @since 0.1
   */
  public static final class Builder {
    private final String target;
    private final BufferAllocator allocator;
    private final List<ClientInterceptor> interceptors = new ArrayList<>();
    private final ChannelConfig channelConfig = new ChannelConfig();
    private int maxChunkBytes = ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES;
    private int resumeAttempts = StreamSettings.DEFAULT_RESUME_ATTEMPTS;
    private long maxReplayBytes = StreamSettings.DEFAULT_MAX_REPLAY_BYTES;
    private IpcCompression inputCompression = IpcCompression.NONE;
    private IpcCompression outputCompression = IpcCompression.NONE;
    private @Nullable Duration deadline;

    private Builder(String target, BufferAllocator allocator) {
      this.target = target;
      this.allocator = allocator;
    }

    /**
     * The largest chunk the client sends. Default 1 MiB; keep it under the server's inbound limit
     * (4 MiB by default).
     */
    public Builder maxChunkBytes(int bytes) {
      if (bytes < 64) {
        throw new IllegalArgumentException("maxChunkBytes: " + bytes + " (expected: >= 64)");
      }
      this.maxChunkBytes = bytes;
      return this;
    }

    /**
     * How the bodies of the batches this client streams are compressed (Arrow's per-buffer body
     * compression; every server version reads it). Default {@link IpcCompression#NONE}. Worth it
     * on links slower than the CPU can compress: see the README's "Compressed bodies" for where
     * it pays. Unary calls are sent uncompressed.
     *
     * @since 0.2
     */
    public Builder inputCompression(IpcCompression compression) {
      this.inputCompression = requireNonNull(compression, "compression");
      return this;
    }

    /**
     * How this client asks the server to compress the bodies of streamed results ({@code
     * StreamHeader.output_compression}). Default {@link IpcCompression#NONE}. The client reads
     * compressed and uncompressed results alike, so a server that ignores the request (an older
     * one) still works. Unary results come back uncompressed.
     *
     * @since 0.2
     */
    public Builder outputCompression(IpcCompression compression) {
      this.outputCompression = requireNonNull(compression, "compression");
      return this;
    }

    /**
     * How often one stream may resume on another replica after the serving one fails with
     * UNAVAILABLE, re-sending only the batches whose results have not arrived. Default 3; 0 turns
     * resume off (and with it the replay buffer).
     */
    public Builder streamResumeAttempts(int attempts) {
      if (attempts < 0) {
        throw new IllegalArgumentException("streamResumeAttempts: " + attempts + " (expected: >= 0)");
      }
      this.resumeAttempts = attempts;
      return this;
    }

    /**
     * The most bytes of sent-but-unanswered batches a stream keeps for a resume; while it is full
     * the upload waits for results. Default 64 MiB. Must hold at least one batch.
     */
    public Builder maxReplayBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxReplayBytes: " + bytes + " (expected: > 0)");
      }
      this.maxReplayBytes = bytes;
      return this;
    }

    /**
     * The HTTP/2 flow-control window each connection and stream starts with, in bytes; gRPC then
     * grows it to the bandwidth-delay product it measures. Default gRPC's 1 MiB; see {@code
     * PredictServer.Builder#flowControlWindow} for the measurements.
     */
    public Builder flowControlWindow(int bytes) {
      channelConfig.flowControlWindow(bytes);
      return this;
    }

    /** The largest gRPC message the client accepts. Default 4 MiB, gRPC's own default. */
    public Builder maxInboundMessageBytes(int bytes) {
      channelConfig.maxInboundMessageBytes(bytes);
      return this;
    }

    /** A deadline applied to every call. Default: none. */
    public Builder deadline(Duration deadline) {
      this.deadline = checkDeadline(deadline);
      return this;
    }

    /**
     * Replaces the default gRPC service config (see the class documentation: round_robin with
     * health checks, unary retries on UNAVAILABLE) with your own, in the map form of {@code
     * ManagedChannelBuilder.defaultServiceConfig}. A config the name resolver supplies (e.g. from
     * DNS TXT records) takes precedence, as usual in gRPC.
     */
    public Builder serviceConfig(Map<String, ?> serviceConfig) {
      channelConfig.serviceConfig(serviceConfig);
      return this;
    }

    /** Adds an interceptor to every call (for credentials, logging, metrics). */
    public Builder intercept(ClientInterceptor interceptor) {
      interceptors.add(requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /** Connects over TLS, trusting the JVM's default certificate authorities. Default: plaintext. */
    public Builder tls() {
      channelConfig.tls();
      return this;
    }

    /** Connects over TLS, trusting the certificates in this PEM file instead of the defaults. */
    public Builder trustedCertificates(Path pemFile) {
      channelConfig.trustedCertificates(ChannelConfig.read(pemFile));
      return this;
    }

    /** As {@link #trustedCertificates(Path)}, from a stream read fully now and not closed. */
    public Builder trustedCertificates(InputStream pem) {
      channelConfig.trustedCertificates(ChannelConfig.readAll(pem));
      return this;
    }

    /**
     * Presents this client certificate chain and private key (PEM; the key in PKCS#8) for mutual
     * TLS. Implies TLS.
     */
    public Builder clientCertificate(Path certificateChain, Path privateKey) {
      channelConfig.clientCertificate(
          ChannelConfig.read(certificateChain), ChannelConfig.read(privateKey));
      return this;
    }

    /** As {@link #clientCertificate(Path, Path)}, from streams read fully now and not closed. */
    public Builder clientCertificate(InputStream certificateChain, InputStream privateKey) {
      channelConfig.clientCertificate(
          ChannelConfig.readAll(certificateChain), ChannelConfig.readAll(privateKey));
      return this;
    }

    /** The name to verify the server's certificate against, if not the target's host. */
    public Builder overrideAuthority(String authority) {
      channelConfig.overrideAuthority(authority);
      return this;
    }

    /**
     * Sends {@code authorization: Bearer <token>} with every call. Use it over TLS: on a
     * plaintext connection anyone on the path can read the token.
     */
    public Builder bearerToken(String token) {
      channelConfig.callCredentials(new BearerToken(requireNonNull(token, "token")));
      return this;
    }

    /** Sends these credentials with every call (any gRPC {@link CallCredentials}). */
    public Builder callCredentials(CallCredentials credentials) {
      channelConfig.callCredentials(requireNonNull(credentials, "credentials"));
      return this;
    }

    /**
     * Creates the client and its channel. The channel connects lazily, on the first call.
     *
     * @throws IllegalStateException if this JVM lacks the flags Arrow needs
     */
    public PredictClient build() {
      ArrowSupport.checkJvm();
      ManagedChannel managed = channelConfig.newChannel(target);
      return new PredictClient(
          ClientInterceptors.intercept(managed, interceptors),
          managed,
          newClientAllocator(allocator),
          new StreamSettings(
              maxChunkBytes, resumeAttempts, maxReplayBytes, inputCompression, outputCompression),
          deadline,
          false);
    }
  }
}
