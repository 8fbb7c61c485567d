/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common;

import static java.util.Objects.requireNonNull;

import io.grpc.Status;

/**
 * The one exception predict-grpc throws for failed predictions, on both sides of the wire.
 *
 * <p>On the server, a model throws it to answer with a specific status: the code and message go to
 * the client as they are, so the message must name the problem for the caller (which column, which
 * parameter) and reveal nothing internal. On the client, every failed call surfaces as a {@code
 * PredictException} carrying the status the server sent.
 *
 * <pre>{@code
 * throw new PredictException(Status.Code.INVALID_ARGUMENT, "parameter 'threshold' must be in [0, 1]");
 * }</pre>
 *
 * @since 0.1
 */
public class PredictException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;

  /** Creates an exception with a gRPC status code and a message safe to show the client. */
  public PredictException(Status.Code code, String message) {
    super(requireNonNull(message, "message"));
    this.code = requireNonNull(code, "code");
  }

  /** Creates an exception with a gRPC status code, a client-safe message and a local cause. */
  public PredictException(Status.Code code, String message, Throwable cause) {
    super(requireNonNull(message, "message"), cause);
    this.code = requireNonNull(code, "code");
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The status this exception stands for: its code and message. */
  public Status toStatus() {
    return code.toStatus().withDescription(getMessage());
  }

  @Override
  public String toString() {
    return "PredictException: " + code + ": " + getMessage();
  }
}
