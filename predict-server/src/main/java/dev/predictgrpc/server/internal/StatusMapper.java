/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.arrow.ArrowChunkException;
import dev.predictgrpc.arrow.MemoryLimits;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * Turns whatever went wrong in a call into the status sent to the client. Thread-safe.
 *
 * <p>Only messages written for the client pass through: those of {@link PredictException}, {@link
 * ArrowChunkException}, {@link IllegalArgumentException} thrown by a model, and statuses a model
 * throws itself. Anything else becomes INTERNAL with a generic message and an error id; the cause
 * is logged here with the same id, so an operator can find it and a client learns nothing of the
 * server's internals.
 *
 * <p>Running out of memory is never a model's fault: whoever allocated when a limit was reached
 * (the decoder, the model, the encoder), the call fails with RESOURCE_EXHAUSTED naming the limit
 * (the call's, or the server-wide budget), and the server logs one line at most every ten
 * seconds, since a client can cause it at will.
 */
public final class StatusMapper {
  private static final Logger logger = Logger.getLogger(StatusMapper.class.getName());
  private static final RateLimitedLog memoryLog =
      new RateLimitedLog(logger, TimeUnit.SECONDS.toNanos(10));

  /** The name of the service-wide allocator, whose limit is {@code maxServerMemoryBytes}. */
  public static final String SERVICE_ALLOCATOR_NAME = "predict-service";

  private StatusMapper() {}

  /**
   * Maps a failure of the named model's call to a status.
   *
   * @param model the model's name and version, for messages and logs (capped here, as it may be
   *     what the client asked for)
   * @param batchIndex the batch being scored, or -1 if none
   */
  public static Status toStatus(Throwable error, String model, long batchIndex) {
    Status status = map(error, ClientText.name(model), batchIndex);
    String description = status.getDescription();
    return description == null ? status : status.withDescription(ClientText.message(description));
  }

  private static Status map(Throwable error, String model, long batchIndex) {
    if (error instanceof PredictException) {
      return ((PredictException) error).toStatus();
    }
    if (MemoryLimits.isOutOfMemory(error)) {
      return outOfMemory(error, model);
    }
    if (error instanceof ArrowChunkException) {
      ArrowChunkException e = (ArrowChunkException) error;
      Status.Code code =
          e.reason() == ArrowChunkException.Reason.LIMIT_EXCEEDED
              ? Status.Code.RESOURCE_EXHAUSTED
              : Status.Code.INVALID_ARGUMENT;
      return code.toStatus()
          .withDescription("invalid input for model '" + model + "': " + e.getMessage());
    }
    if (error instanceof StatusRuntimeException) {
      return ((StatusRuntimeException) error).getStatus();
    }
    if (error instanceof StatusException) {
      return ((StatusException) error).getStatus();
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

  private static Status outOfMemory(Throwable error, String model) {
    String limit = describeLimit(MemoryLimits.refusingAllocator(error));
    memoryLog.log(Level.WARNING, "a call to model '" + model + "' was refused memory: " + limit);
    String detail =
        error instanceof ArrowChunkException ? " (" + error.getMessage() + ")" : "";
    return Status.RESOURCE_EXHAUSTED.withDescription(
        "the call to model '" + model + "' does not fit in " + limit + detail);
  }

  /** Names the setting behind an allocator's limit, from the names this server gives them. */
  private static String describeLimit(@Nullable BufferAllocator refusing) {
    if (refusing == null) {
      return "the server's memory (the JVM is out of memory)";
    }
    String name = refusing.getName();
    if (SERVICE_ALLOCATOR_NAME.equals(name)) {
      return "the server's memory budget (maxServerMemoryBytes=" + refusing.getLimit() + ")";
    }
    if (name.startsWith(CallAllocators.CLIENT_PREFIX)) {
      return "its client's share of the server's memory (maxClientMemoryBytes="
          + refusing.getLimit()
          + ")";
    }
    if (name.startsWith(CallAllocators.CALL_PREFIX) || name.startsWith(Batcher.BATCH_PREFIX)) {
      return "its memory limit (maxCallMemoryBytes=" + refusing.getLimit() + ")";
    }
    return "the server's Arrow allocator (" + refusing.getLimit() + " bytes)";
  }

  private static String batchDescription(long batchIndex) {
    return batchIndex < 0 ? "" : " on batch " + batchIndex;
  }
}
