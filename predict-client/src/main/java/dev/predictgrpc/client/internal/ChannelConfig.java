/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import static java.util.Objects.requireNonNull;

import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The transport side of a client that owns its channel: TLS material, authority, call credentials,
 * service config and inbound message limit, and the {@link ManagedChannel} made from them.
 *
 * <p>Kept apart from {@code PredictClient.Builder} so that the builder only records settings and
 * {@code build()} does not also have to know how TLS and credentials are assembled.
 *
 * <p>Not thread-safe: one builder fills it in and then asks it for a channel. The caller owns each
 * channel {@link #newChannel} returns and must shut it down.
 */
public final class ChannelConfig {
  private int maxInboundMessageBytes = 4 << 20;
  private boolean tls;
  private byte @Nullable [] trustedCertificates;
  private byte @Nullable [] clientCertificateChain;
  private byte @Nullable [] clientPrivateKey;
  private @Nullable String authority;
  private @Nullable CallCredentials callCredentials;
  private Map<String, ?> serviceConfig = ReplicaServiceConfig.create(4);
  private int flowControlWindow;

  /** @throws IllegalArgumentException if {@code bytes} is not positive */
  public void maxInboundMessageBytes(int bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("maxInboundMessageBytes: " + bytes + " (expected: > 0)");
    }
    this.maxInboundMessageBytes = bytes;
  }

  /** @throws IllegalArgumentException if {@code bytes} is not positive */
  public void flowControlWindow(int bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("flowControlWindow: " + bytes + " (expected: > 0)");
    }
    this.flowControlWindow = bytes;
  }

  /** Replaces the default service config with a copy of {@code serviceConfig}. */
  public void serviceConfig(Map<String, ?> serviceConfig) {
    this.serviceConfig = Map.copyOf(requireNonNull(serviceConfig, "serviceConfig"));
  }

  /** Connects over TLS rather than plaintext. */
  public void tls() {
    this.tls = true;
  }

  /** Trusts these PEM certificates instead of the JVM's defaults; implies TLS. */
  public void trustedCertificates(byte[] pem) {
    this.trustedCertificates = pem;
    this.tls = true;
  }

  /** Presents this certificate chain and PKCS#8 key (both PEM) for mutual TLS; implies TLS. */
  public void clientCertificate(byte[] certificateChain, byte[] privateKey) {
    this.clientCertificateChain = certificateChain;
    this.clientPrivateKey = privateKey;
    this.tls = true;
  }

  /** The name to verify the server's certificate against, if not the target's host. */
  public void overrideAuthority(String authority) {
    this.authority = requireNonNull(authority, "authority");
  }

  /** Credentials sent with every call; replaces any set before. */
  public void callCredentials(CallCredentials credentials) {
    this.callCredentials = credentials;
  }

  /**
   * A new channel to {@code target} with these settings, and with retries enabled so the service
   * config's retry policy applies. It connects lazily, on the first call. Ownership of the returned
   * channel passes to the caller, who must shut it down.
   *
   * @throws IllegalArgumentException if the TLS certificates or key cannot be parsed
   */
  public ManagedChannel newChannel(String target) {
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(target, channelCredentials())
            .maxInboundMessageSize(maxInboundMessageBytes)
            .defaultServiceConfig(serviceConfig)
            .enableRetry();
    if (authority != null) {
      builder.overrideAuthority(authority);
    }
    if (flowControlWindow > 0) {
      netty(builder).flowControlWindow(flowControlWindow);
    }
    return builder.build();
  }

  /**
   * Shuts {@code channel} down, giving its calls up to five seconds to finish before cancelling
   * them. Throws nothing checked: an interrupt cancels the calls at once and is passed on.
   */
  public static void shutdown(ManagedChannel channel) {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** The Netty builder behind {@code Grpc.newChannelBuilder}: the only transport we ship with. */
  private static NettyChannelBuilder netty(ManagedChannelBuilder<?> builder) {
    if (!(builder instanceof NettyChannelBuilder)) {
      throw new IllegalStateException(
          "flowControlWindow needs the Netty transport, but gRPC chose "
              + builder.getClass().getName());
    }
    return (NettyChannelBuilder) builder;
  }

  private ChannelCredentials channelCredentials() {
    ChannelCredentials transport;
    if (!tls) {
      transport = InsecureChannelCredentials.create();
    } else {
      TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
      try {
        if (trustedCertificates != null) {
          builder.trustManager(new ByteArrayInputStream(trustedCertificates));
        }
        if (clientCertificateChain != null) {
          builder.keyManager(
              new ByteArrayInputStream(clientCertificateChain),
              new ByteArrayInputStream(clientPrivateKey));
        }
      } catch (IOException | RuntimeException e) {
        throw new IllegalArgumentException("invalid TLS certificate or key: " + e.getMessage(), e);
      }
      transport = builder.build();
    }
    return callCredentials == null
        ? transport
        : CompositeChannelCredentials.create(transport, callCredentials);
  }

  /**
   * The whole content of {@code file}.
   *
   * @throws UncheckedIOException if it cannot be read
   */
  public static byte[] read(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * The rest of {@code in}, which is not closed.
   *
   * @throws UncheckedIOException if it cannot be read
   */
  public static byte[] readAll(InputStream in) {
    try {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
