/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Authenticator;
import io.grpc.Metadata;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/** Checks {@code authorization: Bearer <token>} against known tokens. Immutable, thread-safe. */
public final class BearerTokenAuthenticator implements Authenticator {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final String PREFIX = "Bearer ";

  private final List<byte[]> tokens = new ArrayList<>();
  private final List<String> principals = new ArrayList<>();

  /**
   * @throws IllegalArgumentException if there is no token or a token is empty
   */
  public BearerTokenAuthenticator(Map<String, String> principalsByToken) {
    if (principalsByToken.isEmpty()) {
      throw new IllegalArgumentException("principalsByToken: empty (expected: at least one token)");
    }
    principalsByToken.forEach(
        (token, principal) -> {
          if (token.isEmpty()) {
            throw new IllegalArgumentException("a bearer token is empty");
          }
          tokens.add(token.getBytes(StandardCharsets.UTF_8));
          principals.add(principal);
        });
  }

  @Override
  public String authenticate(Metadata headers, @Nullable SSLSession tls) {
    String header = headers.get(AUTHORIZATION);
    if (header == null) {
      throw unauthenticated("the call has no 'authorization: Bearer <token>' header");
    }
    if (!header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
      throw unauthenticated("the authorization header is not a bearer token");
    }
    byte[] presented = header.substring(PREFIX.length()).trim().getBytes(StandardCharsets.UTF_8);
    String match = null;
    // Compare against every token, in constant time each, so timing reveals nothing.
    for (int i = 0; i < tokens.size(); i++) {
      if (MessageDigest.isEqual(tokens.get(i), presented) && match == null) {
        match = principals.get(i);
      }
    }
    if (match == null) {
      throw unauthenticated("the bearer token is not valid");
    }
    return match;
  }

  private static PredictException unauthenticated(String message) {
    return new PredictException(Status.Code.UNAUTHENTICATED, message);
  }
}
