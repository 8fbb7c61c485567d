/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import dev.predictgrpc.arrow.ArrowChunkDecoder;
import dev.predictgrpc.arrow.ArrowChunkEncoder;

/**
 * Every size limit the server enforces, in one place. Immutable and thread-safe.
 *
 * <p>A request over a limit fails with RESOURCE_EXHAUSTED and a message naming the limit. The
 * defaults suit a server with a few GiB of heap and off-heap memory:
 *
 * <table>
 *   <caption>Limits and defaults</caption>
 *   <tr><th>limit</th><th>default</th><th>bounds</th></tr>
 *   <tr><td>{@code maxInboundMessageBytes}</td><td>4 MiB</td><td>one gRPC message</td></tr>
 *   <tr><td>{@code maxChunkBytes}</td><td>1 MiB</td><td>one output chunk the server sends</td></tr>
 *   <tr><td>{@code maxMessageBytes}</td><td>64 MiB</td><td>one Arrow IPC message (one batch)</td></tr>
 *   <tr><td>{@code maxBatchRows}</td><td>4,194,304</td><td>rows in one batch</td></tr>
 *   <tr><td>{@code maxStreamBytes}</td><td>unlimited</td><td>bytes in one input stream</td></tr>
 *   <tr><td>{@code maxCallMemoryBytes}</td><td>512 MiB</td><td>Arrow memory of one call</td></tr>
 *   <tr><td>{@code maxConcurrentStreamsPerClient}</td><td>64</td><td>open streams of one client
 *       (its principal, or its IP address without authentication)</td></tr>
 * </table>
 *
 * @since 0.1
 */
public final class ServerLimits {
  private static final ServerLimits DEFAULTS = builder().build();

  private final int maxInboundMessageBytes;
  private final int maxChunkBytes;
  private final long maxMessageBytes;
  private final int maxBatchRows;
  private final long maxStreamBytes;
  private final long maxCallMemoryBytes;
  private final int maxConcurrentStreamsPerClient;

  private ServerLimits(Builder builder) {
    this.maxInboundMessageBytes = builder.maxInboundMessageBytes;
    this.maxChunkBytes = builder.maxChunkBytes;
    this.maxMessageBytes = builder.maxMessageBytes;
    this.maxBatchRows = builder.maxBatchRows;
    this.maxStreamBytes = builder.maxStreamBytes;
    this.maxCallMemoryBytes = builder.maxCallMemoryBytes;
    this.maxConcurrentStreamsPerClient = builder.maxConcurrentStreamsPerClient;
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
    b.maxInboundMessageBytes = maxInboundMessageBytes;
    b.maxChunkBytes = maxChunkBytes;
    b.maxMessageBytes = maxMessageBytes;
    b.maxBatchRows = maxBatchRows;
    b.maxStreamBytes = maxStreamBytes;
    b.maxCallMemoryBytes = maxCallMemoryBytes;
    b.maxConcurrentStreamsPerClient = maxConcurrentStreamsPerClient;
    return b;
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

  /** The most {@code PredictStream} calls one client may have open at once. */
  public int maxConcurrentStreamsPerClient() {
    return maxConcurrentStreamsPerClient;
  }

  @Override
  public String toString() {
    return "ServerLimits{maxInboundMessageBytes="
        + maxInboundMessageBytes
        + ", maxChunkBytes="
        + maxChunkBytes
        + ", maxMessageBytes="
        + maxMessageBytes
        + ", maxBatchRows="
        + maxBatchRows
        + ", maxStreamBytes="
        + maxStreamBytes
        + ", maxCallMemoryBytes="
        + maxCallMemoryBytes
        + ", maxConcurrentStreamsPerClient="
        + maxConcurrentStreamsPerClient
        + "}";
  }

  /**
   * Builds {@link ServerLimits}. Each setter validates its argument at once. Not thread-safe.
   *
   * @since 0.1
   */
  public static final class Builder {
    private int maxInboundMessageBytes = 4 << 20;
    private int maxChunkBytes = ArrowChunkEncoder.DEFAULT_MAX_CHUNK_BYTES;
    private long maxMessageBytes = ArrowChunkDecoder.DEFAULT_MAX_MESSAGE_BYTES;
    private int maxBatchRows = 4 << 20;
    private long maxStreamBytes = Long.MAX_VALUE;
    private long maxCallMemoryBytes = 512L << 20;
    private int maxConcurrentStreamsPerClient = 64;

    private Builder() {}

    /** The largest gRPC message the server accepts. Default 4 MiB, gRPC's own default. */
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

    /** The largest Arrow IPC message (one batch) the server decodes. Default 64 MiB. */
    public Builder maxMessageBytes(long bytes) {
      this.maxMessageBytes = positive("maxMessageBytes", bytes);
      return this;
    }

    /** The most rows one input batch may have. Default 4,194,304. */
    public Builder maxBatchRows(int rows) {
      this.maxBatchRows = positive("maxBatchRows", rows);
      return this;
    }

    /** The most input bytes one stream may carry. Default: unlimited. */
    public Builder maxStreamBytes(long bytes) {
      this.maxStreamBytes = positive("maxStreamBytes", bytes);
      return this;
    }

    /** The most Arrow memory one call may hold at once. Default 512 MiB. */
    public Builder maxCallMemoryBytes(long bytes) {
      this.maxCallMemoryBytes = positive("maxCallMemoryBytes", bytes);
      return this;
    }

    /**
     * The most {@code PredictStream} calls one client may have open at once; the next one fails
     * with RESOURCE_EXHAUSTED. A client is its authenticated principal, or its IP address when the
     * server authenticates no one. Default 64.
     */
    public Builder maxConcurrentStreamsPerClient(int streams) {
      this.maxConcurrentStreamsPerClient = positive("maxConcurrentStreamsPerClient", streams);
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
  }
}
