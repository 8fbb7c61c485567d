/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Authenticator;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/**
 * Establishes who is calling: authenticates the call when an {@link Authenticator} is set, and
 * records the principal and the client's identity (the principal, else the peer's IP address) in
 * the call's {@link Context}. A rejected call is closed before any service code runs. Thread-safe.
 */
public final class CallIdentity implements ServerInterceptor {
  /** The principal name; {@value #ANONYMOUS} when no authenticator is configured. */
  static final Context.Key<String> PRINCIPAL = Context.key("predictgrpc-principal");

  /** Whom per-client limits count against: the principal if authenticated, else the peer IP. */
  static final Context.Key<String> CLIENT = Context.key("predictgrpc-client");

  static final String ANONYMOUS = "anonymous";

  private static final Logger logger = Logger.getLogger(CallIdentity.class.getName());

  private final @Nullable Authenticator authenticator;

  /** An interceptor that authenticates with {@code authenticator}, or only records the peer. */
  public CallIdentity(@Nullable Authenticator authenticator) {
    this.authenticator = authenticator;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String principal = ANONYMOUS;
    if (authenticator != null) {
      try {
        principal = authenticator.authenticate(headers, call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
      } catch (PredictException e) {
        call.close(e.toStatus(), new Metadata());
        return new ServerCall.Listener<>() {};
      } catch (RuntimeException e) {
        logger.log(Level.WARNING, "the authenticator failed", e);
        call.close(Status.UNAUTHENTICATED.withDescription("authentication failed"), new Metadata());
        return new ServerCall.Listener<>() {};
      }
    }
    String client = authenticator != null ? principal : peerHost(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    Context context = Context.current().withValues(PRINCIPAL, principal, CLIENT, client);
    return Contexts.interceptCall(context, call, headers, next);
  }

  /** The calling principal, for code running inside a call. */
  static String principal() {
    String principal = PRINCIPAL.get();
    return principal != null ? principal : ANONYMOUS;
  }

  /** The client identity per-client limits count against, for code running inside a call. */
  static String client() {
    String client = CLIENT.get();
    return client != null ? client : ANONYMOUS;
  }

  private static String peerHost(@Nullable SocketAddress address) {
    if (address instanceof InetSocketAddress) {
      InetSocketAddress inet = (InetSocketAddress) address;
      return inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
    }
    return address == null ? ANONYMOUS : address.toString();
  }
}
