/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Turns a request message that cannot be parsed into a clean status for that call.
 *
 * <p>gRPC parses each request on the call's thread, in the request marshaller, just before it hands
 * the message to the handler. If parsing throws (a gzip message that decompresses past {@code
 * maxInboundMessageBytes}, bytes that are not protobuf), gRPC closes the call with UNKNOWN
 * "Application error processing RPC" and logs a SEVERE stack trace, per request: a client could
 * fill the log at will and would never learn what was wrong. So {@link #marshaller} catches the
 * failure, remembers its status on the thread and returns a placeholder; {@link #interceptor},
 * whose listener receives that placeholder next on the same thread, closes the call with the
 * status instead of passing the placeholder on.
 *
 * <p>Thread-safe: the only state is per thread, and it lives from a parse to the delivery that
 * immediately follows it.
 */
final class RequestParseGuard {
  private static final ThreadLocal<@Nullable Status> FAILED_PARSE = new ThreadLocal<>();

  private final int maxInboundMessageBytes;

  RequestParseGuard(int maxInboundMessageBytes) {
    this.maxInboundMessageBytes = maxInboundMessageBytes;
  }

  /** {@code delegate}, except that a failure to parse yields {@code placeholder} and a status. */
  <T> MethodDescriptor.Marshaller<T> marshaller(
      MethodDescriptor.Marshaller<T> delegate, Supplier<T> placeholder) {
    return new MethodDescriptor.Marshaller<T>() {
      @Override
      public InputStream stream(T value) {
        return delegate.stream(value);
      }

      @Override
      public T parse(InputStream stream) {
        FAILED_PARSE.remove();
        try {
          return delegate.parse(stream);
        } catch (RuntimeException e) {
          FAILED_PARSE.set(statusFor(e));
          return placeholder.get();
        }
      }
    };
  }

  private Status statusFor(RuntimeException e) {
    Status.Code code =
        e instanceof StatusRuntimeException ? ((StatusRuntimeException) e).getStatus().getCode() : null;
    if (code == Status.Code.RESOURCE_EXHAUSTED) {
      // gRPC's own check of a decompressed message's size, made while it is read.
      return Status.RESOURCE_EXHAUSTED.withDescription(
          "the request message decompresses to more than "
              + maxInboundMessageBytes
              + " bytes (limit maxInboundMessageBytes="
              + maxInboundMessageBytes
              + ")");
    }
    return Status.INVALID_ARGUMENT.withDescription(
        "the request message could not be read: it is not a valid protobuf message of this"
            + " method's request type, or its compression is corrupt");
  }

  /**
   * {@code generated} with every method's protobuf request parsed through {@link #marshaller} and
   * behind {@link #interceptor}: for a service whose methods all take ordinary protobuf requests.
   */
  ServerServiceDefinition guardAll(ServerServiceDefinition generated) {
    ServiceDescriptor generatedService = generated.getServiceDescriptor();
    ServiceDescriptor.Builder service =
        ServiceDescriptor.newBuilder(generatedService.getName())
            .setSchemaDescriptor(generatedService.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : generated.getMethods()) {
      ServerMethodDefinition<?, ?> guarded = guard(method);
      methods.add(guarded);
      service.addMethod(guarded.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(service.build());
    methods.forEach(definition::addMethod);
    return ServerInterceptors.intercept(definition.build(), interceptor());
  }

  private <ReqT, RespT> ServerMethodDefinition<ReqT, RespT> guard(
      ServerMethodDefinition<ReqT, RespT> method) {
    MethodDescriptor<ReqT, RespT> descriptor = method.getMethodDescriptor();
    if (!(descriptor.getRequestMarshaller()
        instanceof MethodDescriptor.PrototypeMarshaller<ReqT> prototype)) {
      return method;
    }
    return ServerMethodDefinition.create(
        descriptor.toBuilder(marshaller(prototype, prototype::getMessagePrototype),
                descriptor.getResponseMarshaller())
            .build(),
        method.getServerCallHandler());
  }

  /** Closes calls whose request could not be parsed; see the class. */
  ServerInterceptor interceptor() {
    return new ServerInterceptor() {
      @Override
      public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
          ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
        return new Listener<>(call, next.startCall(call, headers));
      }
    };
  }

  private static final class Listener<ReqT, RespT>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<ReqT> {
    private final ServerCall<ReqT, RespT> call;
    /** Set once this guard closed the call; the handler then sees only its end. */
    private boolean closed;

    Listener(ServerCall<ReqT, RespT> call, ServerCall.Listener<ReqT> delegate) {
      super(delegate);
      this.call = call;
    }

    @Override
    public void onMessage(ReqT message) {
      Status failure = FAILED_PARSE.get();
      if (failure != null) {
        FAILED_PARSE.remove();
        if (!closed) {
          closed = true;
          call.close(failure, new Metadata());
        }
        return;
      }
      if (!closed) {
        super.onMessage(message);
      }
    }

    @Override
    public void onHalfClose() {
      if (!closed) {
        super.onHalfClose();
      }
    }

    @Override
    public void onComplete() {
      if (closed) {
        // The handler never saw this call end well: let it release what it holds.
        super.onCancel();
      } else {
        super.onComplete();
      }
    }
  }
}
