/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Filter;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.jspecify.annotations.Nullable;

/**
 * Keeps two transport events that any client can cause from logging a stack trace each time:
 *
 * <ul>
 *   <li>a message over {@code maxInboundMessageBytes}: grpc-netty logs a WARNING with a stack
 *       trace ("Exception processing message") before refusing the call; the client already gets
 *       RESOURCE_EXHAUSTED, so one line per interval is logged instead;
 *   <li>a stream the client closed while the server was writing to it: grpc-netty logs a WARNING
 *       "Stream Error" with Netty's "Stream closed before write could take place"; that is an
 *       ordinary cancellation, logged at FINE instead.
 * </ul>
 *
 * <p>Installed once per JVM on those two grpc-netty-shaded loggers, keeping any filter already set
 * for every other record. Thread-safe.
 */
public final class TransportLogFilter {
  private static final String STREAM_LOGGER =
      "io.grpc.netty.shaded.io.grpc.netty.NettyServerStream";
  private static final String HANDLER_LOGGER =
      "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler";
  private static final Logger logger = Logger.getLogger(TransportLogFilter.class.getName());
  private static final RateLimitedLog oversizeLog =
      new RateLimitedLog(logger, TimeUnit.SECONDS.toNanos(10));
  private static final AtomicBoolean installed = new AtomicBoolean();

  /** Loggers kept strongly, as {@link Logger} holds its configuration only while referenced. */
  private static final Logger[] filtered = new Logger[2];

  private TransportLogFilter() {}

  /** Installs the filters unless already installed. */
  public static void install() {
    if (!installed.compareAndSet(false, true)) {
      return;
    }
    filtered[0] = Logger.getLogger(STREAM_LOGGER);
    filtered[1] = Logger.getLogger(HANDLER_LOGGER);
    for (Logger transport : filtered) {
      Filter previous = transport.getFilter();
      transport.setFilter(record -> !replaced(record) && (previous == null || previous.isLoggable(record)));
    }
  }

  /** True if {@code record} is one of the events above, now logged differently here. */
  static boolean replaced(LogRecord record) {
    Throwable thrown = record.getThrown();
    if (record.getLevel().intValue() < Level.WARNING.intValue() || thrown == null) {
      return false;
    }
    if ("Exception processing message".equals(record.getMessage())
        && thrown instanceof StatusRuntimeException
        && ((StatusRuntimeException) thrown).getStatus().getCode()
            == Status.Code.RESOURCE_EXHAUSTED) {
      oversizeLog.log(
          Level.WARNING,
          "a client sent a message over the inbound limit and was refused: "
              + description(((StatusRuntimeException) thrown).getStatus()));
      return true;
    }
    if ("Stream Error".equals(record.getMessage())
        && thrown instanceof Http2Exception
        && ((Http2Exception) thrown).error() == Http2Error.STREAM_CLOSED) {
      logger.log(Level.FINE, "a client closed a stream while the server wrote to it", thrown);
      return true;
    }
    return false;
  }

  private static String description(Status status) {
    @Nullable String description = status.getDescription();
    return description == null ? status.getCode().toString() : description;
  }
}
