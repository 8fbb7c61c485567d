/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.arrow.ArrowChunkException;
import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.OutOfMemoryException;

/**
 * Turns whatever went wrong in a call into the status sent to the client. Thread-safe.
 *
 * <p>Only messages written for the client pass through: those of {@link PredictException}, {@link
 * ArrowChunkException}, {@link IllegalArgumentException} thrown by a model, and statuses a model
 * throws itself. Anything else becomes INTERNAL with a generic message and an error id; the cause
 * is logged here with the same id, so an operator can find it and a client learns nothing of the
 * server's internals.
 */
public final class StatusMapper {
  private static final Logger logger = Logger.getLogger(StatusMapper.class.getName());

  private StatusMapper() {}

  /**
   * Maps a failure of the named model's call to a status.
   *
   * @param model the model's name and version, for messages and logs
   * @param batchIndex the batch being scored, or -1 if none
   */
  public static Status toStatus(Throwable error, String model, long batchIndex) {
    if (error instanceof PredictException) {
      return ((PredictException) error).toStatus();
    }
    if (error instanceof ArrowChunkException) {
      ArrowChunkException e = (ArrowChunkException) error;
      Status.Code code =
          e.reason() == ArrowChunkException.Reason.LIMIT_EXCEEDED
              ? Status.Code.RESOURCE_EXHAUSTED
              : Status.Code.INVALID_ARGUMENT;
      // The decoder cannot know which server setting bounds its allocator; name it here so the
      // client (or operator) knows which limit the input broke.
      String limit = causedByOutOfMemory(e) ? " (maxCallMemoryBytes)" : "";
      return code.toStatus().withDescription("invalid input for model '" + model + "': "
          + e.getMessage() + limit);
    }
    if (error instanceof StatusRuntimeException) {
      return ((StatusRuntimeException) error).getStatus();
    }
    if (error instanceof StatusException) {
      return ((StatusException) error).getStatus();
    }
    if (error instanceof OutOfMemoryException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(
          "the call to model '" + model + "' exceeded its Arrow memory limit (maxCallMemoryBytes)");
    }
    if (error instanceof IllegalArgumentException && error.getMessage() != null) {
      return Status.INVALID_ARGUMENT.withDescription(
          "model '" + model + "' rejected the input: " + error.getMessage());
    }
    String errorId = UUID.randomUUID().toString().substring(0, 8);
    logger.log(
        Level.WARNING,
        "model '" + model + "' failed" + batchDescription(batchIndex) + " [error id " + errorId
            + "]",
        error);
    return Status.INTERNAL.withDescription(
        "model '" + model + "' failed" + batchDescription(batchIndex) + " (error id " + errorId
            + ")");
  }

  private static boolean causedByOutOfMemory(Throwable error) {
    for (Throwable t = error.getCause(); t != null; t = t.getCause()) {
      if (t instanceof OutOfMemoryException) {
        return true;
      }
    }
    return false;
  }

  private static String batchDescription(long batchIndex) {
    return batchIndex < 0 ? "" : " on batch " + batchIndex;
  }
}
