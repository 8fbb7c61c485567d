/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import io.grpc.Attributes;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Connections for the attacker, from a loopback address of its own. A server without an
 * authenticator tells clients apart by IP address (per-client stream slots and memory share), so an
 * attacker on 127.0.0.1 next to the well-behaved client would be the same client to it: the
 * attacker connects from {@value #ATTACKER_HOST}, as another machine would. Holds no state; safe
 * from any thread.
 */
public final class AttackerChannels {
  /** The attacker's source address; any 127.x.y.z address is loopback on Linux. */
  public static final String ATTACKER_HOST = "127.0.0.2";

  private AttackerChannels() {}

  /**
   * A new channel to the server at 127.0.0.1:{@code port}, connecting from {@value #ATTACKER_HOST}.
   * The caller owns it and must shut it down.
   */
  public static ManagedChannel open(int port) {
    return NettyChannelBuilder.forAddress("127.0.0.1", port)
        .usePlaintext()
        // Big enough to read any answer, so a status is never lost to the client's own limit.
        .maxInboundMessageSize(64 << 20)
        .localSocketPicker(
            new NettyChannelBuilder.LocalSocketPicker() {
              @Override
              public SocketAddress createSocketAddress(
                  SocketAddress remoteAddress, Attributes attrs) {
                return new InetSocketAddress(ATTACKER_HOST, 0);
              }
            })
        .build();
  }

  /** A raw HTTP/2 connection to 127.0.0.1:{@code port} from {@value #ATTACKER_HOST}. */
  public static RawHttp2Connection raw(int port) throws InterruptedException {
    return RawHttp2Connection.connect("127.0.0.1", port, ATTACKER_HOST);
  }
}
