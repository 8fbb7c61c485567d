/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * Resolves {@code static:///host1:port1,host2:port2} to a fixed list of addresses, one per
 * replica, so gRPC's own load balancing (round_robin with health checks) spreads calls over them.
 * gRPC has no built-in scheme for a fixed list; DNS names ({@code dns:///name:port}) need none of
 * this. Registered through {@code META-INF/services}. Thread-safe.
 */
public final class StaticAddressesResolverProvider extends NameResolverProvider {
  /** The URI scheme this provider resolves. */
  public static final String SCHEME = "static";

  /** The target for a list of {@code host:port} addresses. */
  public static String target(List<String> addresses) {
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("addresses: empty (expected: at least one host:port)");
    }
    return SCHEME + ":///" + String.join(",", addresses);
  }

  @Override
  public @Nullable NameResolver newNameResolver(URI targetUri, NameResolver.Args args) {
    if (!SCHEME.equals(targetUri.getScheme())) {
      return null;
    }
    String path = targetUri.getPath();
    List<String[]> hostPorts = new ArrayList<>();
    for (String address : (path.startsWith("/") ? path.substring(1) : path).split(",")) {
      int colon = address.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("'" + address + "' in " + targetUri + " is not host:port");
      }
      hostPorts.add(
          new String[] {address.substring(0, colon).replace("[", "").replace("]", ""),
              address.substring(colon + 1)});
    }
    return new StaticResolver(hostPorts, args);
  }

  /** Resolves each host off the channel's thread, and again whenever gRPC asks to refresh. */
  private static final class StaticResolver extends NameResolver {
    private final List<String[]> hostPorts;
    private final NameResolver.Args args;
    private @Nullable Listener2 listener;

    StaticResolver(List<String[]> hostPorts, NameResolver.Args args) {
      this.hostPorts = hostPorts;
      this.args = args;
    }

    @Override
    public String getServiceAuthority() {
      return hostPorts.get(0)[0];
    }

    @Override
    public void start(Listener2 listener) {
      this.listener = listener;
      resolve();
    }

    @Override
    public void refresh() {
      resolve();
    }

    private void resolve() {
      Executor offload = args.getOffloadExecutor();
      Runnable lookup =
          () -> {
            StatusOr<List<EquivalentAddressGroup>> result;
            try {
              List<EquivalentAddressGroup> groups = new ArrayList<>();
              for (String[] hostPort : hostPorts) {
                // DNS lookups block, which is why this runs on the offload executor.
                groups.add(
                    new EquivalentAddressGroup(
                        new InetSocketAddress(
                            InetAddress.getByName(hostPort[0]), Integer.parseInt(hostPort[1]))));
              }
              result = StatusOr.fromValue(groups);
            } catch (IOException | RuntimeException e) {
              result =
                  StatusOr.fromStatus(
                      Status.UNAVAILABLE.withDescription("cannot resolve replicas").withCause(e));
            }
            StatusOr<List<EquivalentAddressGroup>> resolved = result;
            args.getSynchronizationContext()
                .execute(
                    () ->
                        listener.onResult2(
                            ResolutionResult.newBuilder().setAddressesOrError(resolved).build()));
          };
      if (offload != null) {
        offload.execute(lookup);
      } else {
        lookup.run();
      }
    }

    @Override
    public void shutdown() {}
  }

  @Override
  public String getDefaultScheme() {
    return SCHEME;
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 4; // Below dns (5): never the default scheme for a bare "host:port".
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

}
