/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static java.util.Objects.requireNonNull;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;
import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * Every limit the server enforces, in one place: memory, sizes of what clients send, and the
 * connections and calls they open. Immutable and thread-safe.
 *
 * <p>A request over a size or memory limit fails with RESOURCE_EXHAUSTED and a message naming the
 * limit; a call over a time limit fails with DEADLINE_EXCEEDED naming it. The transport limits
 * (those that say "applies when {@link PredictServer} owns the transport") configure the HTTP/2
 * server that {@link PredictServer} builds; if you mount {@link PredictService} on a server of
 * your own, set their equivalents on your server builder.
 *
 * <p>How the memory limits fit together: every call takes its Arrow memory from one service-wide
 * budget, {@code maxServerMemoryBytes}, and no call may hold more than {@code
 * maxCallMemoryBytes} of it. Input counts against both as soon as it arrives, before it is
 * decoded, so a client holds only memory for bytes it has actually sent. The gRPC transport
 * buffers up to one message ({@code maxInboundMessageBytes}) per open call outside the budget,
 * bounded by {@code maxConcurrentCallsPerConnection} per connection and released by {@code
 * firstMessageTimeout} and {@code streamIdleTimeout} when a client stalls.
 *
 * @since 0.1
 */
public final class ServerLimits {
  /**
   * The default {@code maxServerMemoryBytes}: half the JVM's direct-memory limit, and at least 64
   * MiB. The limit is {@code -XX:MaxDirectMemorySize} when set, otherwise the heap limit, as the
   * JVM itself defaults it.
   */
  public static final long DEFAULT_SERVER_MEMORY_BYTES =
      Math.max(64L << 20, maxDirectMemoryBytes() / 2);

  /**
   * The default {@code maxServerThreads}: 64 per processor, at least 128, enough for callers
   * that wait on a batching model's merged batches.
   */
  public static final int DEFAULT_SERVER_THREADS =
      Math.max(128, 64 * Runtime.getRuntime().availableProcessors());

  private static final ServerLimits DEFAULTS = builder().build();

  private final long maxServerMemoryBytes;
  private final int maxInboundMessageBytes;
  private final int maxChunkBytes;
  private final long maxMessageBytes;
  private final int maxMetadataBytes;
  private final int maxSchemaFields;
  private final int maxBatchRows;
  private final long maxStreamBytes;
  private final long maxCallMemoryBytes;
  private final long maxClientMemoryBytes;
  private final int maxUnaryResponseBytes;
  private final int maxConcurrentStreamsPerClient;
  private final Duration firstMessageTimeout;
  private final Duration streamIdleTimeout;
  private final Duration messageArrivalTimeout;
  private final int maxConcurrentCallsPerConnection;
  private final Duration maxConnectionIdle;
  private final Duration maxConnectionAge;
  private final Duration maxConnectionAgeGrace;
  private final Duration permitKeepAliveTime;
  private final int maxResetStreamsPerWindow;
  private final Duration resetStreamWindow;
  private final int maxServerThreads;

  private ServerLimits(Builder builder) {
    this.maxServerMemoryBytes = builder.maxServerMemoryBytes;
    this.maxInboundMessageBytes = builder.maxInboundMessageBytes;
    this.maxChunkBytes = builder.maxChunkBytes;
    this.maxMessageBytes = builder.maxMessageBytes;
    this.maxMetadataBytes = builder.maxMetadataBytes;
    this.maxSchemaFields = builder.maxSchemaFields;
    this.maxBatchRows = builder.maxBatchRows;
    this.maxStreamBytes = builder.maxStreamBytes;
    this.maxCallMemoryBytes = builder.maxCallMemoryBytes;
    this.maxClientMemoryBytes = builder.maxClientMemoryBytes;
    this.maxUnaryResponseBytes = builder.maxUnaryResponseBytes;
    this.maxConcurrentStreamsPerClient = builder.maxConcurrentStreamsPerClient;
    this.firstMessageTimeout = builder.firstMessageTimeout;
    this.streamIdleTimeout = builder.streamIdleTimeout;
    this.messageArrivalTimeout = builder.messageArrivalTimeout;
    this.maxConcurrentCallsPerConnection = builder.maxConcurrentCallsPerConnection;
    this.maxConnectionIdle = builder.maxConnectionIdle;
    this.maxConnectionAge = builder.maxConnectionAge;
    this.maxConnectionAgeGrace = builder.maxConnectionAgeGrace;
    this.permitKeepAliveTime = builder.permitKeepAliveTime;
    this.maxResetStreamsPerWindow = builder.maxResetStreamsPerWindow;
    this.resetStreamWindow = builder.resetStreamWindow;
    this.maxServerThreads = builder.maxServerThreads;
  }

  /** The default limits. */
  public static ServerLimits defaults() {
    return DEFAULTS;
  }

  /** Starts from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from these limits. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.maxServerMemoryBytes = maxServerMemoryBytes;
    b.maxInboundMessageBytes = maxInboundMessageBytes;
    b.maxChunkBytes = maxChunkBytes;
    b.maxMessageBytes = maxMessageBytes;
    b.maxMetadataBytes = maxMetadataBytes;
    b.maxSchemaFields = maxSchemaFields;
    b.maxBatchRows = maxBatchRows;
    b.maxStreamBytes = maxStreamBytes;
    b.maxCallMemoryBytes = maxCallMemoryBytes;
    b.maxClientMemoryBytes = maxClientMemoryBytes;
    b.maxUnaryResponseBytes = maxUnaryResponseBytes;
    b.maxConcurrentStreamsPerClient = maxConcurrentStreamsPerClient;
    b.firstMessageTimeout = firstMessageTimeout;
    b.streamIdleTimeout = streamIdleTimeout;
    b.messageArrivalTimeout = messageArrivalTimeout;
    b.maxConcurrentCallsPerConnection = maxConcurrentCallsPerConnection;
    b.maxConnectionIdle = maxConnectionIdle;
    b.maxConnectionAge = maxConnectionAge;
    b.maxConnectionAgeGrace = maxConnectionAgeGrace;
    b.permitKeepAliveTime = permitKeepAliveTime;
    b.maxResetStreamsPerWindow = maxResetStreamsPerWindow;
    b.resetStreamWindow = resetStreamWindow;
    b.maxServerThreads = maxServerThreads;
    return b;
  }

  /** The most Arrow memory all calls together may hold, input being received included. */
  public long maxServerMemoryBytes() {
    return maxServerMemoryBytes;
  }

  /** The largest gRPC message the server accepts. */
  public int maxInboundMessageBytes() {
    return maxInboundMessageBytes;
  }

  /** The largest chunk the server sends. */
  public int maxChunkBytes() {
    return maxChunkBytes;
  }

  /** The largest Arrow IPC message (one batch, metadata and body) the server decodes. */
  public long maxMessageBytes() {
    return maxMessageBytes;
  }

  /** The largest Arrow IPC message metadata (a schema, a batch's header) the server decodes. */
  public int maxMetadataBytes() {
    return maxMetadataBytes;
  }

  /** The most fields, nested ones included, an input schema may have. */
  public int maxSchemaFields() {
    return maxSchemaFields;
  }

  /** The most rows in one input batch. */
  public int maxBatchRows() {
    return maxBatchRows;
  }

  /** The most input bytes in one stream. */
  public long maxStreamBytes() {
    return maxStreamBytes;
  }

  /** The most Arrow memory one call may hold (input, model output and buffers). */
  public long maxCallMemoryBytes() {
    return maxCallMemoryBytes;
  }

  /**
   * The most Arrow memory all calls of one client together may hold: a quarter of {@link
   * #maxServerMemoryBytes()} unless set.
   */
  public long maxClientMemoryBytes() {
    return maxClientMemoryBytes > 0 ? maxClientMemoryBytes : maxServerMemoryBytes / 4;
  }

  /** The largest {@code Predict} response the server sends. */
  public int maxUnaryResponseBytes() {
    return maxUnaryResponseBytes;
  }

  /** The most {@code PredictStream} calls one client may have open at once. */
  public int maxConcurrentStreamsPerClient() {
    return maxConcurrentStreamsPerClient;
  }

  /** How long a call may take from its start to its first complete message. */
  public Duration firstMessageTimeout() {
    return firstMessageTimeout;
  }

  /** How long the server waits for a client's next message while it has asked for one. */
  public Duration streamIdleTimeout() {
    return streamIdleTimeout;
  }

  /**
   * How long one Arrow IPC message of a stream may take to arrive, counting only time the server
   * was asking for its bytes.
   */
  public Duration messageArrivalTimeout() {
    return messageArrivalTimeout;
  }

  /** The most calls one HTTP/2 connection may have open at once. */
  public int maxConcurrentCallsPerConnection() {
    return maxConcurrentCallsPerConnection;
  }

  /** How long a connection with no calls stays open. */
  public Duration maxConnectionIdle() {
    return maxConnectionIdle;
  }

  /** How long a connection may live before the server asks the client to reconnect. */
  public Duration maxConnectionAge() {
    return maxConnectionAge;
  }

  /** How long calls may continue on a connection past its maximum age. */
  public Duration maxConnectionAgeGrace() {
    return maxConnectionAgeGrace;
  }

  /** The shortest keepalive ping interval the server tolerates from a client. */
  public Duration permitKeepAliveTime() {
    return permitKeepAliveTime;
  }

  /** The most streams a client may reset (RST_STREAM) per {@link #resetStreamWindow}. */
  public int maxResetStreamsPerWindow() {
    return maxResetStreamsPerWindow;
  }

  /** The window over which {@link #maxResetStreamsPerWindow} counts resets. */
  public Duration resetStreamWindow() {
    return resetStreamWindow;
  }

  /** The most threads the server runs calls and models on. */
  public int maxServerThreads() {
    return maxServerThreads;
  }

  @Override
  public String toString() {
    return "ServerLimits{"
        + "maxServerMemoryBytes="
        + maxServerMemoryBytes
        + ", maxInboundMessageBytes="
        + maxInboundMessageBytes
        + ", maxChunkBytes="
        + maxChunkBytes
        + ", maxMessageBytes="
        + maxMessageBytes
        + ", maxMetadataBytes="
        + maxMetadataBytes
        + ", maxSchemaFields="
        + maxSchemaFields
        + ", maxBatchRows="
        + maxBatchRows
        + ", maxStreamBytes="
        + maxStreamBytes
        + ", maxCallMemoryBytes="
        + maxCallMemoryBytes
        + ", maxClientMemoryBytes="
        + maxClientMemoryBytes()
        + ", maxUnaryResponseBytes="
        + maxUnaryResponseBytes
        + ", maxConcurrentStreamsPerClient="
        + maxConcurrentStreamsPerClient
        + ", firstMessageTimeout="
        + firstMessageTimeout
        + ", streamIdleTimeout="
        + streamIdleTimeout
        + ", messageArrivalTimeout="
        + messageArrivalTimeout
        + ", maxConcurrentCallsPerConnection="
        + maxConcurrentCallsPerConnection
        + ", maxConnectionIdle="
        + maxConnectionIdle
        + ", maxConnectionAge="
        + maxConnectionAge
        + ", maxConnectionAgeGrace="
        + maxConnectionAgeGrace
        + ", permitKeepAliveTime="
        + permitKeepAliveTime
        + ", maxResetStreamsPerWindow="
        + maxResetStreamsPerWindow
        + ", resetStreamWindow="
        + resetStreamWindow
        + ", maxServerThreads="
        + maxServerThreads
        + "}";
  }

  private static long maxDirectMemoryBytes() {
    try {
      HotSpotDiagnosticMXBean hotSpot =
          ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      long configured = Long.parseLong(hotSpot.getVMOption("MaxDirectMemorySize").getValue());
      if (configured > 0) {
        return configured;
      }
    } catch (RuntimeException | LinkageError e) {
      // Not a HotSpot JVM: fall back to its default, the heap limit.
    }
    return Runtime.getRuntime().maxMemory();
  }

  /**
   * Builds {@link ServerLimits}. Each setter validates its argument at once. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private long maxServerMemoryBytes = DEFAULT_SERVER_MEMORY_BYTES;
    private int maxInboundMessageBytes = 4 << 20;
    private int maxChunkBytes = ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES;
    private long maxMessageBytes = ArrowChunkDecoder.DEFAULT_MAX_MESSAGE_BYTES;
    private int maxMetadataBytes = ArrowChunkDecoder.DEFAULT_MAX_METADATA_BYTES;
    private int maxSchemaFields = ArrowChunkDecoder.DEFAULT_MAX_SCHEMA_FIELDS;
    private int maxBatchRows = 4 << 20;
    private long maxStreamBytes = Long.MAX_VALUE;
    private long maxCallMemoryBytes = 512L << 20;
    private long maxClientMemoryBytes; // 0: a quarter of maxServerMemoryBytes.
    private int maxUnaryResponseBytes = 4 << 20;
    private int maxConcurrentStreamsPerClient = 64;
    private Duration firstMessageTimeout = Duration.ofSeconds(10);
    private Duration streamIdleTimeout = Duration.ofMinutes(2);
    private Duration messageArrivalTimeout = Duration.ofMinutes(5);
    private int maxConcurrentCallsPerConnection = 128;
    private Duration maxConnectionIdle = Duration.ofMinutes(15);
    private Duration maxConnectionAge = Duration.ofHours(1);
    private Duration maxConnectionAgeGrace = Duration.ofMinutes(10);
    private Duration permitKeepAliveTime = Duration.ofMinutes(5);
    private int maxResetStreamsPerWindow = 500;
    private Duration resetStreamWindow = Duration.ofSeconds(10);
    private int maxServerThreads = DEFAULT_SERVER_THREADS;

    private Builder() {}

    /**
     * The most Arrow memory all calls of the service together may hold: received input
     * (counted as it arrives), decoded batches, model output and merged batches. A call
     * that would take more fails with RESOURCE_EXHAUSTED naming this limit; calls already
     * holding memory keep it. Default: half the JVM's direct-memory limit ({@code
     * -XX:MaxDirectMemorySize}, which defaults to the heap limit), so the gRPC transport,
     * which draws on the same direct memory, keeps the other half; see {@link
     * #DEFAULT_SERVER_MEMORY_BYTES}.
     */
    public Builder maxServerMemoryBytes(long bytes) {
      this.maxServerMemoryBytes = positive("maxServerMemoryBytes", bytes);
      return this;
    }

    /**
     * The largest gRPC message the server accepts. Default 4 MiB, gRPC's own default.
     */
    public Builder maxInboundMessageBytes(int bytes) {
      this.maxInboundMessageBytes = positive("maxInboundMessageBytes", bytes);
      return this;
    }

    /**
     * The largest output chunk the server sends. Default 1 MiB. Keep it under the clients'
     * inbound message limit (4 MiB by default in every gRPC implementation).
     */
    public Builder maxChunkBytes(int bytes) {
      if (bytes < 64) {
        throw new IllegalArgumentException("maxChunkBytes: " + bytes + " (expected: >= 64)");
      }
      this.maxChunkBytes = bytes;
      return this;
    }

    /**
     * The largest Arrow IPC message (one batch) the server decodes. Default 64 MiB.
     */
    public Builder maxMessageBytes(long bytes) {
      this.maxMessageBytes = positive("maxMessageBytes", bytes);
      return this;
    }

    /**
     * The largest metadata of one Arrow IPC message (the flatbuffer that describes a schema
     * or a batch's layout, held on the heap while it arrives). Default 4 MiB, room for a
     * schema of 10,000 columns.
     */
    public Builder maxMetadataBytes(int bytes) {
      this.maxMetadataBytes = positive("maxMetadataBytes", bytes);
      return this;
    }

    /**
     * The most fields, nested ones included, an input schema may have. Default 10,000.
     */
    public Builder maxSchemaFields(int value) {
      this.maxSchemaFields = positive("maxSchemaFields", value);
      return this;
    }

    /**
     * The most rows one input batch may have. Default 4,194,304.
     */
    public Builder maxBatchRows(int value) {
      this.maxBatchRows = positive("maxBatchRows", value);
      return this;
    }

    /**
     * The most input bytes one stream may carry. Default: unlimited.
     */
    public Builder maxStreamBytes(long bytes) {
      this.maxStreamBytes = positive("maxStreamBytes", bytes);
      return this;
    }

    /**
     * The most Arrow memory one call may hold at once. Default 512 MiB (and never more than
     * {@link #maxServerMemoryBytes}).
     */
    public Builder maxCallMemoryBytes(long bytes) {
      this.maxCallMemoryBytes = positive("maxCallMemoryBytes", bytes);
      return this;
    }

    /**
     * The most Arrow memory all calls of one client may hold together (a client is its
     * authenticated principal, or its IP address when the server authenticates no one), so that
     * no single client can take the whole {@link #maxServerMemoryBytes} budget, say by opening many
     * streams that each hold part of a batch. Default: a quarter of {@code maxServerMemoryBytes}.
     */
    public Builder maxClientMemoryBytes(long bytes) {
      this.maxClientMemoryBytes = positive("maxClientMemoryBytes", bytes);
      return this;
    }

    /**
     * The largest {@code Predict} (unary) response the server sends; a bigger output fails
     * with RESOURCE_EXHAUSTED suggesting {@code PredictStream}. Default 4 MiB, what gRPC
     * clients accept by default.
     */
    public Builder maxUnaryResponseBytes(int bytes) {
      this.maxUnaryResponseBytes = positive("maxUnaryResponseBytes", bytes);
      return this;
    }

    /**
     * The most {@code PredictStream} calls one client may have open at once, counted from
     * the moment a call starts; the next one fails with RESOURCE_EXHAUSTED. A client is its
     * authenticated principal, or its IP address when the server authenticates no one.
     * Default 64.
     */
    public Builder maxConcurrentStreamsPerClient(int value) {
      this.maxConcurrentStreamsPerClient = positive("maxConcurrentStreamsPerClient", value);
      return this;
    }

    /**
     * How long a call may take from its start to its first complete request message (a
     * unary request, a stream's header); then it fails with DEADLINE_EXCEEDED and its
     * memory is released. Default 10 s.
     */
    public Builder firstMessageTimeout(Duration duration) {
      this.firstMessageTimeout = positive("firstMessageTimeout", duration);
      return this;
    }

    /**
     * How long the server waits for a stream's next message while it has asked for one;
     * then the call fails with DEADLINE_EXCEEDED. Time a client spends not reading output
     * (so the server asks for no input) does not count. Default 2 min.
     */
    public Builder streamIdleTimeout(Duration duration) {
      this.streamIdleTimeout = positive("streamIdleTimeout", duration);
      return this;
    }

    /**
     * How long one Arrow IPC message (a batch) of a {@code PredictStream} may take to arrive from
     * its first byte to its last, counting only time the server was asking for input (time the
     * client spends not reading output does not count). Then the call fails with
     * DEADLINE_EXCEEDED and releases what it held. It stops a client that keeps part of a batch
     * in the server's memory by trickling chunks, even empty ones, which each reset {@link
     * #streamIdleTimeout}. Default 5 min: a 64 MiB batch at 1.8 Mbit/s; raise it for slower links.
     */
    public Builder messageArrivalTimeout(Duration duration) {
      this.messageArrivalTimeout = positive("messageArrivalTimeout", duration);
      return this;
    }

    /**
     * The most calls one HTTP/2 connection may have open at once, announced to clients as
     * {@code SETTINGS_MAX_CONCURRENT_STREAMS}, so gRPC clients queue further calls. Default
     * 128. Applies when {@link PredictServer} owns the transport.
     */
    public Builder maxConcurrentCallsPerConnection(int value) {
      this.maxConcurrentCallsPerConnection = positive("maxConcurrentCallsPerConnection", value);
      return this;
    }

    /**
     * How long a connection with no open calls stays open before the server closes it
     * gracefully (GOAWAY); clients reconnect when they next call. Default 15 min. Applies
     * when {@link PredictServer} owns the transport.
     */
    public Builder maxConnectionIdle(Duration duration) {
      this.maxConnectionIdle = positive("maxConnectionIdle", duration);
      return this;
    }

    /**
     * How long a connection may live before the server sends GOAWAY (gRPC adds a random 10%
     * either way), so clients rebalance over replicas and no connection lives forever.
     * Calls in progress continue for {@link #maxConnectionAgeGrace}. Default 1 h. Applies
     * when {@link PredictServer} owns the transport.
     */
    public Builder maxConnectionAge(Duration duration) {
      this.maxConnectionAge = positive("maxConnectionAge", duration);
      return this;
    }

    /**
     * How long calls may continue on a connection past {@link #maxConnectionAge}; then the
     * connection is closed (a {@code PredictClient} resumes streams cut this way). Default
     * 10 min. Applies when {@link PredictServer} owns the transport.
     */
    public Builder maxConnectionAgeGrace(Duration duration) {
      this.maxConnectionAgeGrace = nonNegative("maxConnectionAgeGrace", duration);
      return this;
    }

    /**
     * The shortest keepalive ping interval the server tolerates; a client that pings more
     * often is sent GOAWAY ({@code too_many_pings}). Pings without open calls are never
     * permitted. Default 5 min, gRPC's own. Applies when {@link PredictServer} owns the
     * transport.
     */
    public Builder permitKeepAliveTime(Duration duration) {
      this.permitKeepAliveTime = positive("permitKeepAliveTime", duration);
      return this;
    }

    /**
     * The most streams a client may reset (RST_STREAM) within {@link #resetStreamWindow}
     * before the server closes its connection, the defence against HTTP/2 rapid reset.
     * Default 500. Applies when {@link PredictServer} owns the transport.
     */
    public Builder maxResetStreamsPerWindow(int value) {
      this.maxResetStreamsPerWindow = positive("maxResetStreamsPerWindow", value);
      return this;
    }

    /**
     * The window, in whole seconds, over which {@link #maxResetStreamsPerWindow} counts.
     * Default 10 s.
     */
    public Builder resetStreamWindow(Duration duration) {
      positive("resetStreamWindow", duration);
      if (duration.toSeconds() < 1 || duration.toNanos() % 1_000_000_000L != 0) {
        throw new IllegalArgumentException("resetStreamWindow: " + duration + " (expected: whole seconds)");
      }
      this.resetStreamWindow = duration;
      return this;
    }

    /**
     * The most threads of the executor that {@link PredictServer} creates to run calls and
     * models (a bounded pool whose idle threads end after a minute); further work queues.
     * Default {@link #DEFAULT_SERVER_THREADS}. Ignored when you pass your own {@code
     * executor}. Applies when {@link PredictServer} owns the transport.
     */
    public Builder maxServerThreads(int value) {
      this.maxServerThreads = positive("maxServerThreads", value);
      return this;
    }

    /** Creates the limits. */
    public ServerLimits build() {
      return new ServerLimits(this);
    }

    private static int positive(String name, int value) {
      if (value <= 0) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
      }
      return value;
    }

    private static long positive(String name, long value) {
      if (value <= 0) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
      }
      return value;
    }

    private static Duration positive(String name, Duration value) {
      requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
      }
      return value;
    }

    private static Duration nonNegative(String name, Duration value) {
      requireNonNull(value, name);
      if (value.isNegative()) {
        throw new IllegalArgumentException(name + ": " + value + " (expected: >= 0)");
      }
      return value;
    }
  }
}
