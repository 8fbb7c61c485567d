/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import dev.predictgrpc.arrow.ArrowChunkException;
import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
    return new PredictException(status.getCode(), explain(status.getCode(), description), t);
  }

  /**
   * Rewrites the two statuses gRPC itself words for transport people rather than for callers: the
   * client's own deadline (which gRPC describes with name-resolution delays and socket addresses)
   * and a message over a receiver's size limit (which names neither limit nor remedy). The
   * original text stays in the exception's cause. Statuses the server wrote pass unchanged.
   */
  static String explain(Status.Code code, String description) {
    if (code == Status.Code.DEADLINE_EXCEEDED && isGrpcDeadlineText(description)) {
      return "the call's deadline passed before it completed; give it more time with"
          + " PredictOptions.withDeadline or PredictClient.withDeadline";
    }
    Matcher tooBig = MESSAGE_TOO_BIG.matcher(description);
    if (code == Status.Code.RESOURCE_EXHAUSTED && tooBig.find()) {
      return "a message of "
          + tooBig.group(2)
          + " bytes exceeds the receiver's limit of "
          + tooBig.group(1)
          + " bytes (a request: the server's maxInboundMessageBytes; a response: this client's"
          + " maxInboundMessageSize); send large inputs with predictStream, which cuts them into"
          + " chunks";
    }
    return description;
  }

  /** gRPC's own texts for a deadline it enforced on the client. */
  private static boolean isGrpcDeadlineText(String description) {
    String lower = description.toLowerCase(Locale.ROOT);
    return lower.startsWith("deadline exceeded after")
        || lower.startsWith("clientcall started after")
        || lower.contains("name resolution delay")
        || lower.contains("remote_addr=");
  }

  /** gRPC's text for a message over the receiver's limit: "... maximum size LIMIT: SIZE". */
  private static final Pattern MESSAGE_TOO_BIG =
      Pattern.compile("gRPC message exceeds maximum size (\\d+): (\\d+)");
}
