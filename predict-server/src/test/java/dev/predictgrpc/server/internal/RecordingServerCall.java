/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * A stand-in for the transport's {@link ServerCall}, strict where gRPC's own is: it rejects a
 * message or close after close, and it records any two threads inside its outbound methods at once
 * (gRPC's calls are not thread-safe, and would corrupt rather than complain). Tests of {@link
 * GuardedCall} drive the guard and the listener directly through it, so they control the order of
 * events exactly. Thread-safe.
 */
final class RecordingServerCall extends ServerCall<String, String> {
  static final MethodDescriptor.Marshaller<String> STRINGS =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(String value) {
          return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
          try {
            return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }
      };

  static final MethodDescriptor<String, String> METHOD =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
          .setFullMethodName("test.Echo/Chat")
          .setRequestMarshaller(STRINGS)
          .setResponseMarshaller(STRINGS)
          .build();

  private final AtomicBoolean inside = new AtomicBoolean();
  private final List<String> events = new ArrayList<>();
  private final List<String> violations = new ArrayList<>();
  private @Nullable Status closedWith;
  private int requested;

  @Override
  public synchronized void request(int numMessages) {
    requested += numMessages;
  }

  @Override
  public void sendHeaders(Metadata headers) {
    enter("sendHeaders");
    try {
      record("headers");
    } finally {
      leave();
    }
  }

  @Override
  public void sendMessage(String message) {
    enter("sendMessage");
    try {
      synchronized (this) {
        if (closedWith != null) {
          violations.add("sendMessage after close");
          throw new IllegalStateException("call is closed");
        }
        events.add("message:" + message);
      }
      // Widen the window in which a racing close would overlap this send.
      Thread.yield();
    } finally {
      leave();
    }
  }

  @Override
  public void close(Status status, Metadata trailers) {
    enter("close");
    try {
      synchronized (this) {
        if (closedWith != null) {
          violations.add("close after close");
          throw new IllegalStateException("call already closed");
        }
        closedWith = status;
        events.add("close:" + status.getCode());
      }
    } finally {
      leave();
    }
  }

  @Override
  public boolean isCancelled() {
    return false;
  }

  @Override
  public MethodDescriptor<String, String> getMethodDescriptor() {
    return METHOD;
  }

  synchronized @Nullable Status closedWith() {
    return closedWith;
  }

  synchronized int requested() {
    return requested;
  }

  synchronized List<String> events() {
    return List.copyOf(events);
  }

  synchronized List<String> violations() {
    return List.copyOf(violations);
  }

  private synchronized void record(String event) {
    events.add(event);
  }

  private void enter(String method) {
    if (!inside.compareAndSet(false, true)) {
      synchronized (this) {
        violations.add(method + " while another thread was inside the call");
      }
    }
  }

  private void leave() {
    inside.set(false);
  }
}
