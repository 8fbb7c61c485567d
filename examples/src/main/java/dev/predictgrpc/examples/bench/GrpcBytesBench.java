/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import dev.predictgrpc.arrow.ArrowChunkEncoder;
import io.grpc.CallOptions;
import io.grpc.Drainable;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.KnownLength;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.MethodDescriptor;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.CallStreamObserver;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.jspecify.annotations.Nullable;

/**
 * The floor: grpc-java with no protobuf and no Arrow, byte arrays straight through a two-line
 * marshaller. The stream sends the table as 1 MiB messages of row-major little-endian float32
 * (16,384 rows each); {@code Echo} returns each message, {@code Score} returns its row sums. The
 * unary call carries the same bytes as predict-grpc's Predict (the one-row Arrow IPC stream in, the
 * one-row score IPC stream out) but does no Arrow work at all.
 */
final class GrpcBytesBench {
  private static final String SERVICE = "bench.RawBytes";
  static final MethodDescriptor<byte[], byte[]> ECHO = method("Echo", MethodType.BIDI_STREAMING);
  static final MethodDescriptor<byte[], byte[]> SCORE = method("Score", MethodType.BIDI_STREAMING);
  /**
   * The unary method carrying {@code rows} rows: "Predict" for one row (as before), "Predict100"
   * for 100, so that the server can answer each with its fixed response.
   */
  static MethodDescriptor<byte[], byte[]> unaryMethod(int rows) {
    return method(rows == 1 ? "Predict" : "Predict" + rows, MethodType.UNARY);
  }
  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private GrpcBytesBench() {}

  private static MethodDescriptor<byte[], byte[]> method(String name, MethodType type) {
    return MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(type)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, name))
        .setRequestMarshaller(BytesMarshaller.INSTANCE)
        .setResponseMarshaller(BytesMarshaller.INSTANCE)
        .build();
  }

  /**
   * @param unshaded serve over grpc-netty rather than grpc-netty-shaded (see {@link
   *     Transport#GRPC_UNSHADED})
   */
  static RunningServer serve(BufferAllocator allocator, boolean unshaded) throws IOException {
    ServerServiceDefinition.Builder service =
        ServerServiceDefinition.builder(SERVICE)
            .addMethod(ECHO, ServerCalls.asyncBidiStreamingCall(out -> new Handler(out, in -> in)))
            .addMethod(
                SCORE,
                ServerCalls.asyncBidiStreamingCall(out -> new Handler(out, GrpcBytesBench::score)));
    for (int rows : Bench.UNARY_ROWS) {
      byte[] response = scoreIpc(allocator, rows);
      service.addMethod(
          unaryMethod(rows),
          ServerCalls.asyncUnaryCall(
              (request, out) -> {
                out.onNext(response);
                out.onCompleted();
              }));
    }
    InetSocketAddress loopback = new InetSocketAddress("127.0.0.1", 0);
    ServerBuilder<?> builder =
        unshaded
            ? io.grpc.netty.NettyServerBuilder.forAddress(
                loopback, InsecureServerCredentials.create())
            : NettyServerBuilder.forAddress(loopback, InsecureServerCredentials.create());
    Server server = builder.addService(service.build()).build().start();
    return RunningServer.of(
        server.getPort(),
        () -> {
          server.shutdown();
          if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
            server.shutdownNow();
          }
        });
  }

  /** The Arrow IPC stream of the scores of {@code rows} rows, as predict-grpc's Predict answers. */
  static byte[] scoreIpc(BufferAllocator allocator, int rows) {
    try (BenchTable table = new BenchTable(allocator, rows);
        VectorSchemaRoot score = VectorSchemaRoot.create(BenchTable.SCORE_SCHEMA, allocator)) {
      RowSum.compute(table.batch(), (Float4Vector) score.getVector(0));
      score.setRowCount(rows);
      return ArrowChunkEncoder.encodeStream(score, null).toByteArray();
    }
  }

  /** Row sums of a message of row-major float32 features, as little-endian float32. */
  static byte[] score(byte[] message) {
    int rows = message.length / BenchTable.BYTES_PER_ROW;
    byte[] scores = new byte[rows * Float.BYTES];
    for (int r = 0; r < rows; r++) {
      int offset = r * BenchTable.BYTES_PER_ROW;
      float sum = 0;
      for (int c = 0; c < BenchTable.COLUMNS; c++) {
        sum += (float) FLOAT_LE.get(message, offset + c * Float.BYTES);
      }
      FLOAT_LE.set(scores, r * Float.BYTES, sum);
    }
    return scores;
  }

  /**
   * Answers each request message with one response, reading the next request only when the response
   * side can take more: grpc-java's manual flow-control example, verbatim in spirit.
   */
  private static final class Handler implements StreamObserver<byte[]> {
    private final ServerCallStreamObserver<byte[]> responses;
    private final UnaryOperator<byte[]> work;
    private final AtomicBoolean wasReady = new AtomicBoolean();

    Handler(StreamObserver<byte[]> responses, UnaryOperator<byte[]> work) {
      this.responses = (ServerCallStreamObserver<byte[]>) responses;
      this.work = work;
      this.responses.disableAutoRequest();
      this.responses.setOnReadyHandler(
          () -> {
            // Guards against requesting twice when onReady races with onNext.
            if (this.responses.isReady() && wasReady.compareAndSet(false, true)) {
              this.responses.request(1);
            }
          });
    }

    @Override
    public void onNext(byte[] message) {
      responses.onNext(work.apply(message));
      if (responses.isReady()) {
        responses.request(1);
      } else {
        wasReady.set(false);
      }
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {
      responses.onCompleted();
    }
  }

  static final class Client implements BenchClient {
    private final BenchTable table;
    private final ManagedChannel channel;
    /** Unary requests by row count: the Arrow IPC bytes predict-grpc's client would send. */
    private final Map<Integer, byte[]> unaryRequests = new HashMap<>();

    Client(int port, BufferAllocator allocator, BenchTable table, boolean unshaded) {
      this.table = table;
      String target = "127.0.0.1:" + port;
      ManagedChannelBuilder<?> builder =
          unshaded
              ? io.grpc.netty.NettyChannelBuilder.forTarget(
                  target, InsecureChannelCredentials.create())
              : Grpc.newChannelBuilder(target, InsecureChannelCredentials.create());
      this.channel = builder.maxInboundMessageSize(4 << 20).build();
      for (int rows : Bench.UNARY_ROWS) {
        try (VectorSchemaRoot batch = table.firstRows(allocator, rows)) {
          unaryRequests.put(rows, ArrowChunkEncoder.encodeStream(batch, null).toByteArray());
        }
      }
    }

    @Override
    public long stream(String model, long rows) throws Exception {
      boolean echo = model.equals("echo");
      byte[] message = table.rawMessage();
      int messageRows = message.length / BenchTable.BYTES_PER_ROW;
      long fullMessages = rows / messageRows;
      int tailRows = (int) (rows % messageRows);
      CompletableFuture<Void> done = new CompletableFuture<>();
      AtomicLong receivedBytes = new AtomicLong();
      Object ready = new Object();
      ClientCallStreamObserver<byte[]> requests =
          (ClientCallStreamObserver<byte[]>)
              ClientCalls.asyncBidiStreamingCall(
                  channel.newCall(echo ? ECHO : SCORE, CallOptions.DEFAULT),
                  new ClientResponseObserver<byte[], byte[]>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<byte[]> requestStream) {
                      requestStream.setOnReadyHandler(() -> signal(ready));
                    }

                    @Override
                    public void onNext(byte[] response) {
                      if (echo) {
                        table.checkFeature(0, 0, (float) FLOAT_LE.get(response, 0));
                      } else {
                        table.checkScore(0, (float) FLOAT_LE.get(response, 0));
                      }
                      receivedBytes.addAndGet(response.length);
                    }

                    @Override
                    public void onError(Throwable t) {
                      done.completeExceptionally(t);
                      signal(ready);
                    }

                    @Override
                    public void onCompleted() {
                      done.complete(null);
                    }
                  });
      for (long i = 0; i < fullMessages; i++) {
        awaitReady(requests, ready, done);
        requests.onNext(message);
      }
      if (tailRows > 0) {
        awaitReady(requests, ready, done);
        requests.onNext(Arrays.copyOf(message, tailRows * BenchTable.BYTES_PER_ROW));
      }
      requests.onCompleted();
      done.get();
      return receivedBytes.get() / (echo ? BenchTable.BYTES_PER_ROW : Float.BYTES);
    }

    private static void signal(Object ready) {
      synchronized (ready) {
        ready.notifyAll();
      }
    }

    /** Waits until gRPC can take another message without buffering it. */
    private static void awaitReady(
        CallStreamObserver<byte[]> requests, Object ready, CompletableFuture<Void> done)
        throws InterruptedException {
      synchronized (ready) {
        while (!requests.isReady() && !done.isDone()) {
          ready.wait(100);
        }
      }
    }

    @Override
    public void unary(int rows) {
      byte[] response =
          ClientCalls.blockingUnaryCall(
              channel, unaryMethod(rows), CallOptions.DEFAULT, unaryRequests.get(rows));
      checkUnary(response);
    }

    @Override
    public void unaryAsync(int rows, Consumer<@Nullable Throwable> done) {
      ClientCalls.asyncUnaryCall(
          channel.newCall(unaryMethod(rows), CallOptions.DEFAULT),
          unaryRequests.get(rows),
          new StreamObserver<byte[]>() {
            @Override
            public void onNext(byte[] response) {}

            @Override
            public void onError(Throwable t) {
              done.accept(t);
            }

            @Override
            public void onCompleted() {
              done.accept(null);
            }
          });
    }

    private static void checkUnary(byte[] response) {
      if (response.length == 0) {
        throw new IllegalStateException("bare unary: empty response");
      }
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdown();
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    }
  }

  /** byte[] in and out, with no copy beyond the one grpc-java makes into its own buffers. */
  enum BytesMarshaller implements MethodDescriptor.Marshaller<byte[]> {
    INSTANCE;

    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        if (stream instanceof KnownLength) {
          byte[] bytes = new byte[stream.available()];
          int read = stream.readNBytes(bytes, 0, bytes.length);
          if (read != bytes.length) {
            throw new IOException("short read: " + read + " of " + bytes.length + " bytes");
          }
          return bytes;
        }
        return stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL
            .withDescription("reading a message")
            .withCause(e)
            .asRuntimeException();
      }
    }
  }

  /** Lets grpc-java size the message up front and copy it out in one write. */
  private static final class ByteArrayStream extends ByteArrayInputStream
      implements KnownLength, Drainable {
    ByteArrayStream(byte[] bytes) {
      super(bytes);
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int length = count - pos;
      target.write(buf, pos, length);
      pos = count;
      return length;
    }
  }
}
