/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

/** Which grpc-netty log records the server replaces, and which it leaves alone. */
class TransportLogFilterTest {
  private static LogRecord record(Level level, String message, Throwable thrown) {
    LogRecord record = new LogRecord(level, message);
    record.setThrown(thrown);
    return record;
  }

  @Test
  void oversizedMessageWarning_isReplaced() {
    LogRecord record =
        record(
            Level.WARNING,
            "Exception processing message",
            Status.RESOURCE_EXHAUSTED.withDescription("too big").asRuntimeException());

    assertThat(TransportLogFilter.replaced(record)).isTrue();
  }

  @Test
  void streamClosedBeforeWrite_isReplaced() {
    Http2Exception closed =
        Http2Exception.streamError(
            3, Http2Error.STREAM_CLOSED, "Stream closed before write could take place");

    assertThat(TransportLogFilter.replaced(record(Level.WARNING, "Stream Error", closed))).isTrue();
  }

  @Test
  void otherTransportProblems_stillLogAsBefore() {
    Http2Exception protocol = Http2Exception.streamError(3, Http2Error.PROTOCOL_ERROR, "bad frame");

    assertThat(TransportLogFilter.replaced(record(Level.WARNING, "Stream Error", protocol)))
        .isFalse();
    assertThat(
            TransportLogFilter.replaced(
                record(
                    Level.WARNING,
                    "Exception processing message",
                    Status.INTERNAL.asRuntimeException())))
        .isFalse();
    assertThat(TransportLogFilter.replaced(record(Level.WARNING, "Stream Error", null))).isFalse();
  }
}
