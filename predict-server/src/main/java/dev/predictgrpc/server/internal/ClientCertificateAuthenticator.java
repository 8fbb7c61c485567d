/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Authenticator;
import io.grpc.Metadata;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/** Names the caller by its verified TLS client certificate's subject. Thread-safe. */
public final class ClientCertificateAuthenticator implements Authenticator {
  @Override
  public String authenticate(Metadata headers, @Nullable SSLSession tls) {
    if (tls == null) {
      throw new PredictException(
          Status.Code.UNAUTHENTICATED, "the call did not come over TLS with a client certificate");
    }
    try {
      Certificate[] chain = tls.getPeerCertificates();
      return ((X509Certificate) chain[0]).getSubjectX500Principal().getName();
    } catch (SSLPeerUnverifiedException | RuntimeException e) {
      throw new PredictException(
          Status.Code.UNAUTHENTICATED, "the call presented no verified client certificate");
    }
  }
}
