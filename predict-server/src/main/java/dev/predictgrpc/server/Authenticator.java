/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import dev.predictgrpc.server.internal.BearerTokenAuthenticator;
import dev.predictgrpc.server.internal.ClientCertificateAuthenticator;
import io.grpc.Metadata;
import java.util.Map;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/**
 * Decides who is calling, before any model code runs.
 *
 * <p>Set one with {@link PredictServer.Builder#authenticator} or {@link
 * PredictService.Builder#authenticator}. A call it rejects ends with UNAUTHENTICATED and its
 * message; a call it accepts carries the returned principal, which {@link Authorizer} and {@link
 * PredictContext#principal()} see.
 *
 * <pre>{@code
 * Authenticator tokens = Authenticator.bearerTokens(Map.of(System.getenv("PREDICT_TOKEN"), "pipeline"));
 * }</pre>
 *
 * <p>Implementations must be thread-safe: they run on gRPC's transport threads for every call.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface Authenticator {
  /**
   * Returns the caller's principal (a name for logs and authorization).
   *
   * @param headers the call's request headers
   * @param tls the TLS session, or null on a plaintext connection
   * @throws dev.predictgrpc.common.PredictException with UNAUTHENTICATED (its message goes to the
   *     client) if the credentials are missing or wrong
   */
  String authenticate(Metadata headers, @Nullable SSLSession tls);

  /**
   * Accepts calls whose {@code authorization} header is {@code Bearer <token>} for one of the
   * given tokens; the principal is the token's value in the map. Tokens are compared in constant
   * time.
   */
  static Authenticator bearerTokens(Map<String, String> principalsByToken) {
    return new BearerTokenAuthenticator(principalsByToken);
  }

  /**
   * Accepts calls over mutual TLS; the principal is the subject of the client's certificate,
   * which the TLS handshake has already verified against the server's trusted certificates.
   */
  static Authenticator clientCertificate() {
    return new ClientCertificateAuthenticator();
  }
}
