/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import dev.predictgrpc.arrow.ArrowChunkException;
import dev.predictgrpc.common.PredictException;
import io.grpc.Status;

/** Converts failures seen by the client into {@link PredictException}s. Thread-safe. */
public final class Statuses {
  private Statuses() {}

  /** The exception a caller sees for a failed call. */
  public static PredictException toPredictException(Throwable t) {
    if (t instanceof PredictException) {
      return (PredictException) t;
    }
    if (t instanceof ArrowChunkException) {
      // The server sent bytes we cannot decode: a server bug or a version mismatch.
      return new PredictException(
          Status.Code.INTERNAL, "the server's response is not valid Arrow IPC: " + t.getMessage(), t);
    }
    Status status = Status.fromThrowable(t);
    String description = status.getDescription();
    if (description == null) {
      description = status.getCode() == Status.Code.UNKNOWN && t.getMessage() != null
          ? t.getMessage()
          : status.getCode().name();
    }
    return new PredictException(status.getCode(), description, t);
  }
}
