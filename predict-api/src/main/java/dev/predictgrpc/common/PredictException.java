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
 * <p>Callers branch on the common codes without importing {@code io.grpc.Status}:
 *
 * <pre>{@code
 * try (VectorSchemaRoot out = client.predict("iris", input)) {
 *   ...
 * } catch (PredictException e) {
 *   if (e.isNotFound()) { ... }               // no such model or version
 *   else if (e.isInvalidArgument()) { ... }   // fix the input; e.getMessage() names the column
 *   else throw e;
 * }
 * }</pre>
 *
 * <p>Immutable, like every exception once thrown.
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

  /**
   * True for NOT_FOUND: the server hosts no model, or no version, of the name asked for.
   *
   * <p>This and the other {@code is...} methods spell out the codes callers most often branch on,
   * so that handling them needs no import of {@code io.grpc.Status}; {@link #code()} still gives
   * every code.
   *
   * @since 0.1
   */
  public boolean isNotFound() {
    return code == Status.Code.NOT_FOUND;
  }

  /**
   * True for INVALID_ARGUMENT: the request was wrong (a column missing or of the wrong type,
   * malformed Arrow IPC, a bad parameter); repeating it unchanged fails again.
   *
   * @since 0.1
   */
  public boolean isInvalidArgument() {
    return code == Status.Code.INVALID_ARGUMENT;
  }

  /**
   * True for RESOURCE_EXHAUSTED: the call broke a server limit, named in the message, or a model's
   * batching queue was full.
   *
   * @since 0.1
   */
  public boolean isResourceExhausted() {
    return code == Status.Code.RESOURCE_EXHAUSTED;
  }

  /**
   * True for UNAVAILABLE: no server could take the call (unreachable, shutting down). Unary calls
   * were already retried by the client's default service config before this was thrown.
   *
   * @since 0.1
   */
  public boolean isUnavailable() {
    return code == Status.Code.UNAVAILABLE;
  }

  /**
   * True for DEADLINE_EXCEEDED: the call's deadline passed before it finished.
   *
   * @since 0.1
   */
  public boolean isDeadlineExceeded() {
    return code == Status.Code.DEADLINE_EXCEEDED;
  }

  /**
   * True for CANCELLED: the call was cancelled, usually by this side.
   *
   * @since 0.1
   */
  public boolean isCancelled() {
    return code == Status.Code.CANCELLED;
  }

  /**
   * True for UNAUTHENTICATED: the server requires credentials and the call's were missing or
   * wrong.
   *
   * @since 0.1
   */
  public boolean isUnauthenticated() {
    return code == Status.Code.UNAUTHENTICATED;
  }

  /**
   * True for PERMISSION_DENIED: the caller is known but may not use this model.
   *
   * @since 0.1
   */
  public boolean isPermissionDenied() {
    return code == Status.Code.PERMISSION_DENIED;
  }

  /**
   * True for INTERNAL: the model failed or broke its contract; the server logged the cause under
   * the error id in the message.
   *
   * @since 0.1
   */
  public boolean isInternal() {
    return code == Status.Code.INTERNAL;
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
