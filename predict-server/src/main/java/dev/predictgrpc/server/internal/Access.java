/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import dev.predictgrpc.server.Authorizer;
import io.grpc.Status;

/** Applies the {@link Authorizer} to the calling principal. Thread-safe. */
final class Access {
  private final Authorizer authorizer;

  Access(Authorizer authorizer) {
    this.authorizer = authorizer;
  }

  /** Whether the calling principal may call {@code model}. */
  boolean allows(String model) {
    return authorizer.isAllowed(CallIdentity.principal(), model);
  }

  /**
   * @throws PredictException PERMISSION_DENIED if the calling principal may not call {@code model}
   */
  void check(String model) {
    String principal = CallIdentity.principal();
    if (!authorizer.isAllowed(principal, model)) {
      throw new PredictException(
          Status.Code.PERMISSION_DENIED,
          "principal '" + ClientText.name(principal) + "' may not call model '" + model + "'");
    }
  }
}
