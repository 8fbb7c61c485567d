/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.InProcessPredict.chunk;
import static dev.predictgrpc.server.InProcessPredict.chunksAfterHeader;
import static dev.predictgrpc.server.InProcessPredict.header;
import static dev.predictgrpc.server.InProcessPredict.messages;
import static dev.predictgrpc.server.InProcessPredict.request;
import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictRequest;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamRequest;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import dev.predictgrpc.api.v1.PredictionServiceGrpc;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The limits against hostile clients, over real loopback TCP through {@link PredictServer}: the
 * call guard's timeouts, streams per client counted from their start, the HTTP/2 connection limits
 * and the bounded executor. Each test checks that a well-behaved client is still served.
 *
 * <p>Timeouts are set to a second where a test waits for one to fire: long enough that a good call
 * never trips it on a loaded machine, short enough to keep the suite fast.
 */
class TransportLimitsTest {
  private static final Duration SHORT = Duration.ofSeconds(1);

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private final List<ManagedChannel> channels = new ArrayList<>();

  private BufferAllocator allocator() {
    return arrow.allocator();
  }

  @AfterEach
  void closeChannels() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private PredictServer start(ServerLimits limits, ModelService... models) throws Exception {
    PredictServer.Builder builder =
        PredictServer.builder(allocator())
            .port(0)
            .bindAddress("127.0.0.1")
            .limits(limits)
            // Short, so that a failing test that leaves a call open does not wait out 30 s.
            .shutdownGracePeriod(Duration.ofSeconds(1))
            .addModel(TestModel.scale("scale"));
    for (ModelService model : models) {
      builder.addModel(model);
    }
    return builder.build().start();
  }

  private ManagedChannel channelTo(PredictServer server) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build();
    channels.add(channel);
    return channel;
  }

  private ByteString input() {
    return Batches.xStream(allocator(), 3, 2);
  }

  /** One batch: a model's body runs once per call. */
  private ByteString oneBatch() {
    return Batches.xStream(allocator(), 3);
  }

  /** A good unary call, which must succeed. */
  private void goodUnary(ManagedChannel channel) {
    PredictResponse response =
        PredictionServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .predict(request("scale", "", input()));
    assertThat(Batches.decode(allocator(), response.getArrowIpc()).rowCounts())
        .containsExactly(3, 2);
  }

  /** A good stream: returns its status, and checks its output if OK. */
  private Status goodStream(ManagedChannel channel) {
    Collector<PredictStreamResponse> call = new Collector<>();
    StreamObserver<PredictStreamRequest> out =
        PredictionServiceGrpc.newStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .predictStream(call);
    for (PredictStreamRequest r : messages("scale", Batches.split(input(), 100))) {
      out.onNext(r);
    }
    out.onCompleted();
    Status status = call.awaitStatus();
    if (status.isOk()) {
      assertThat(Batches.decode(allocator(), chunksAfterHeader(call.messages())).rowCounts())
          .containsExactly(3, 2);
    }
    return status;
  }

  /** Runs good unary calls until {@code bad} ends (at most 20 s); returns how many succeeded. */
  private int goodUnaryCallsWhile(ManagedChannel channel, RawCall<?, ?> bad) throws Exception {
    int calls = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!bad.isDone() && System.nanoTime() < deadline) {
      goodUnary(channel);
      calls++;
      Thread.sleep(20);
    }
    return calls;
  }

  /**
   * Retries a good stream until the server accepts one (within 10 s): the slot a stream frees is
   * given back when the server has processed its end, which may be just after the client saw it.
   */
  private void awaitStreamAccepted(ManagedChannel channel) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      Status status = goodStream(channel);
      if (status.isOk()) {
        return;
      }
      assertThat(status.getCode())
          .as("status %s", status)
          .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(System.nanoTime()).as("a stream accepted within 10 s").isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("%s within 10 s", what).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /**
   * A model that holds each call until {@link #release} opens: to keep calls in progress. Closing
   * it opens the gate, so list it after the server in try-with-resources: it opens first.
   */
  private static final class GateModel implements AutoCloseable {
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger entered = new AtomicInteger();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger mostRunning = new AtomicInteger();
    final Set<String> threads = ConcurrentHashMap.newKeySet();
    final TestModel model =
        TestModel.of(
            "gate",
            (ctx, input) -> {
              threads.add(Thread.currentThread().getName());
              entered.incrementAndGet();
              mostRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
              try {
                // Bounded, so a failing test cannot hang the build.
                release.await(30, TimeUnit.SECONDS);
              } finally {
                running.decrementAndGet();
              }
              return TestModel.doubleFirstColumn(ctx, input);
            });

    @Override
    public void close() {
      release.countDown();
    }
  }

  /** Sends a unary request to {@code model} without waiting; the collector gets the outcome. */
  private Collector<PredictResponse> unaryAsync(ManagedChannel channel, String model) {
    Collector<PredictResponse> response = new Collector<>();
    PredictionServiceGrpc.newStub(channel)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .predict(request(model, "", oneBatch()), response);
    return response;
  }

  @Test
  void unaryCallWithoutARequest_endsWithDeadlineExceededAfterFirstMessageTimeout()
      throws Exception {
    try (PredictServer server = start(ServerLimits.builder().firstMessageTimeout(SHORT).build())) {
      ManagedChannel channel = channelTo(server);
      long started = System.nanoTime();
      RawCall<PredictRequest, PredictResponse> silent =
          RawCall.start(channel, PredictionServiceGrpc.getPredictMethod());

      int good = goodUnaryCallsWhile(channel, silent);

      Status status = silent.awaitStatus(10);
      assertCleanError(
          status,
          Status.Code.DEADLINE_EXCEEDED,
          "no request message within 1 s of the call's start",
          "firstMessageTimeout=PT1S");
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(SHORT);
      assertThat(good).as("good calls on the same connection meanwhile").isPositive();
      goodUnary(channel);
    }
  }

  @Test
  void streamWithoutAHeader_endsAfterFirstMessageTimeout_andItsSlotIsFreed() throws Exception {
    ServerLimits limits =
        ServerLimits.builder().firstMessageTimeout(SHORT).maxConcurrentStreamsPerClient(1).build();
    try (PredictServer server = start(limits)) {
      ManagedChannel channel = channelTo(server);
      RawCall<PredictStreamRequest, PredictStreamResponse> silent =
          RawCall.start(channel, PredictionServiceGrpc.getPredictStreamMethod());

      int good = goodUnaryCallsWhile(channel, silent);

      assertCleanError(
          silent.awaitStatus(10),
          Status.Code.DEADLINE_EXCEEDED,
          "no request message within 1 s",
          "firstMessageTimeout=PT1S");
      assertThat(good).isPositive();
      // The client's only stream slot is free again.
      awaitStreamAccepted(channel);
    }
  }

  @Test
  void streamIdleAfterItsHeader_endsWithDeadlineExceeded_andReleasesItsMemory() throws Exception {
    try (PredictServer server = start(ServerLimits.builder().streamIdleTimeout(SHORT).build())) {
      ManagedChannel channel = channelTo(server);
      ByteString input = Batches.xStream(allocator(), 2, 5000);
      Collector<PredictStreamResponse> idle = new Collector<>();
      StreamObserver<PredictStreamRequest> out =
          PredictionServiceGrpc.newStub(channel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .predictStream(idle);
      out.onNext(header("scale", ""));
      // Most of a batch, so that the server holds received input while the client goes silent.
      out.onNext(chunk(input.substring(0, input.size() - 500)));
      idle.awaitFirstMessage();
      await("input held by the server", () -> server.service().allocatedBytes() > 0);

      int good = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!idle.isDone() && System.nanoTime() < deadline) {
        assertThat(goodStream(channel).getCode()).isEqualTo(Status.Code.OK);
        good++;
        Thread.sleep(20);
      }

      assertCleanError(
          idle.awaitStatus(),
          Status.Code.DEADLINE_EXCEEDED,
          "no request message for 1 s while the server was waiting for one",
          "streamIdleTimeout=PT1S");
      assertThat(good).as("good streams meanwhile").isPositive();
      await("the idle stream's memory released", () -> server.service().allocatedBytes() == 0);
    }
  }

  @Test
  void streamsWithoutHeaders_countAgainstMaxConcurrentStreamsPerClient() throws Exception {
    ServerLimits limits =
        ServerLimits.builder()
            .maxConcurrentStreamsPerClient(2)
            .firstMessageTimeout(Duration.ofSeconds(60))
            .build();
    try (PredictServer server = start(limits)) {
      ManagedChannel channel = channelTo(server);
      List<RawCall<PredictStreamRequest, PredictStreamResponse>> silent = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        silent.add(RawCall.start(channel, PredictionServiceGrpc.getPredictStreamMethod()));
      }
      // The server may start them in any order; whichever comes third is refused at once.
      await("one stream refused", () -> silent.stream().anyMatch(RawCall::isDone));
      List<RawCall<PredictStreamRequest, PredictStreamResponse>> refused =
          silent.stream().filter(RawCall::isDone).collect(Collectors.toList());
      assertThat(refused).hasSize(1);
      assertCleanError(
          refused.get(0).awaitStatus(1),
          Status.Code.RESOURCE_EXHAUSTED,
          "already has 2 streams open",
          "maxConcurrentStreamsPerClient=2");
      // Unary calls are not streams: still served.
      goodUnary(channel);

      for (RawCall<PredictStreamRequest, PredictStreamResponse> call : silent) {
        call.call.cancel("test done", null);
      }
      awaitStreamAccepted(channel);
    }
  }

  @Test
  void maxConcurrentCallsPerConnection_isAnnounced_soFurtherCallsWaitOnTheClient()
      throws Exception {
    GateModel gate = new GateModel();
    ServerLimits limits = ServerLimits.builder().maxConcurrentCallsPerConnection(2).build();
    try (PredictServer server = start(limits, gate.model);
        gate) {
      ManagedChannel crowded = channelTo(server);
      List<Collector<PredictResponse>> calls = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        calls.add(unaryAsync(crowded, "gate"));
      }
      await("two calls in the model", () -> gate.entered.get() == 2);

      // The limit is per connection: another client's call gets in at once.
      Collector<PredictResponse> other = unaryAsync(channelTo(server), "gate");
      await("the other connection's call in the model", () -> gate.entered.get() == 3);
      assertThat(gate.entered.get()).as("calls beyond the limit wait on their client").isEqualTo(3);
      assertThat(calls).noneMatch(Collector::isDone);

      gate.release.countDown();
      calls.add(other);
      for (Collector<PredictResponse> call : calls) {
        assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      }
      assertThat(gate.entered.get()).isEqualTo(5);
    }
  }

  @Test
  void rapidResetFlood_closesThatConnection_andLeavesOtherClientsAlone() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxResetStreamsPerWindow(20).build();
    try (PredictServer server = start(limits)) {
      ManagedChannel flood = channelTo(server);
      ManagedChannel good = channelTo(server);
      goodUnary(flood); // connected, so each call below really opens and resets an HTTP/2 stream
      goodUnary(good);
      Collector<HealthCheckResponse> bystander = new Collector<>();
      HealthGrpc.newStub(flood).watch(HealthCheckRequest.getDefaultInstance(), bystander);
      bystander.awaitFirstMessage();

      // Below the limit, resets are fine: clients cancel calls all the time.
      for (int i = 0; i < 15; i++) {
        openAndReset(flood);
      }
      goodUnary(flood);
      assertThat(bystander.isDone()).isFalse();

      int resets = 0;
      while (!bystander.isDone() && resets < 2000) {
        openAndReset(flood);
        resets++;
        if (resets % 50 == 0) {
          Thread.sleep(1); // let the transport catch up rather than buffer thousands of streams
        }
      }

      // The server sends GOAWAY (ENHANCE_YOUR_CALM, "too_many_rststreams") and closes the
      // connection. A client that reads the GOAWAY first reports RESOURCE_EXHAUSTED with it; one
      // that sees the connection reset first, UNAVAILABLE ("io exception").
      Status status = bystander.awaitStatus();
      assertThat(status.getCode())
          .as("status %s", status)
          .isIn(Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED);
      if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
        assertThat(status.getDescription()).contains("GOAWAY", "too_many_rststreams");
      }
      goodUnary(good);
      assertThat(good.getState(false)).isEqualTo(ConnectivityState.READY);
    }
  }

  @Test
  void defaultExecutor_neverRunsMoreThanMaxServerThreads() throws Exception {
    GateModel gate = new GateModel();
    Set<String> before = serverThreadNames();
    try (PredictServer server =
            start(ServerLimits.builder().maxServerThreads(4).build(), gate.model);
        gate) {
      List<Collector<PredictResponse>> calls = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        ManagedChannel channel = channelTo(server);
        for (int i = 0; i < 4; i++) {
          calls.add(unaryAsync(channel, "gate"));
        }
      }
      await("four calls in the model", () -> gate.entered.get() == 4);
      Set<String> created = serverThreadNames();
      created.removeAll(before);
      assertThat(created).as("threads this server created").hasSizeLessThanOrEqualTo(4);

      gate.release.countDown();
      for (Collector<PredictResponse> call : calls) {
        assertThat(call.awaitStatus().getCode()).isEqualTo(Status.Code.OK);
      }
      assertThat(gate.entered.get()).isEqualTo(12);
      assertThat(gate.mostRunning.get()).isEqualTo(4);
      assertThat(gate.threads).hasSize(4).allMatch(name -> name.startsWith("predictgrpc-server-"));
      created = serverThreadNames();
      created.removeAll(before);
      assertThat(created).hasSizeLessThanOrEqualTo(4);
    }
  }

  @Test
  void healthWatchWithoutItsRequest_endsAfterFirstMessageTimeout() throws Exception {
    try (PredictServer server = start(ServerLimits.builder().firstMessageTimeout(SHORT).build())) {
      ManagedChannel channel = channelTo(server);
      RawCall<HealthCheckRequest, HealthCheckResponse> silent =
          RawCall.start(channel, HealthGrpc.getWatchMethod());
      assertCleanError(
          silent.awaitStatus(10), Status.Code.DEADLINE_EXCEEDED, "firstMessageTimeout=PT1S");
      // A watch that sent its request stays open past the limit: it is not waiting for input.
      Collector<HealthCheckResponse> watch = new Collector<>();
      long started = System.nanoTime();
      HealthGrpc.newStub(channel).watch(HealthCheckRequest.getDefaultInstance(), watch);
      watch.awaitFirstMessage();
      while (System.nanoTime() - started < SHORT.multipliedBy(2).toNanos()) {
        Thread.sleep(20);
      }
      assertThat(watch.isDone())
          .as("watch ended: %s", watch.isDone() ? watch.awaitStatus() : null)
          .isFalse();
      channel.shutdownNow(); // ends the watch, so the server need not wait out its grace period
    }
  }

  @Test
  void clientNotReadingOutput_isNotIdle_andItsStreamCompletesOnceItReads() throws Exception {
    try (PredictServer server = start(ServerLimits.builder().streamIdleTimeout(SHORT).build())) {
      // A small fixed window, so that the server's output backs up after a few chunks.
      ManagedChannel slowReader =
          NettyChannelBuilder.forAddress("127.0.0.1", server.port())
              .usePlaintext()
              .flowControlWindow(64 << 10)
              .build();
      channels.add(slowReader);
      int[] rowCounts = new int[20];
      java.util.Arrays.fill(rowCounts, 100_000);
      ByteString input = Batches.xStream(allocator(), rowCounts);
      RawCall<PredictStreamRequest, PredictStreamResponse> call =
          RawCall.startWithoutReading(slowReader, PredictionServiceGrpc.getPredictStreamMethod());
      for (PredictStreamRequest message : messages("scale", Batches.split(input, 1 << 20))) {
        call.call.sendMessage(message);
      }
      call.call.halfClose();

      // The server stops asking for input while its output waits: that is not the client idling.
      long started = System.nanoTime();
      while (System.nanoTime() - started < SHORT.multipliedBy(3).toNanos()) {
        assertThat(call.isDone()).as("stream ended while its output was unread").isFalse();
        Thread.sleep(20);
      }
      goodUnary(channelTo(server));

      call.call.request(Integer.MAX_VALUE);
      Status status = call.awaitStatus(30);
      assertThat(status.getCode()).as("status %s", status).isEqualTo(Status.Code.OK);
      Batches.Decoded output = Batches.decode(allocator(), chunksAfterHeader(call.messages()));
      assertThat(output.rowCounts()).hasSize(20).allMatch(rows -> rows == 100_000);
    }
  }

  @Test
  void maxConnectionIdle_closesAConnectionWithoutCalls() throws Exception {
    ServerLimits limits = ServerLimits.builder().maxConnectionIdle(Duration.ofMillis(300)).build();
    try (PredictServer server = start(limits)) {
      ManagedChannel channel = channelTo(server);
      goodUnary(channel);
      // The server's GOAWAY sends the channel back to IDLE; its own idle timer is 30 min.
      await(
          "the server to close the idle connection",
          () -> channel.getState(false) == ConnectivityState.IDLE);
      goodUnary(channel); // the client simply reconnects
    }
  }

  /** Opens a stream (the client sends its headers at once) and resets it (RST_STREAM). */
  private static void openAndReset(ManagedChannel channel) {
    ClientCall<PredictStreamRequest, PredictStreamResponse> call =
        channel.newCall(PredictionServiceGrpc.getPredictStreamMethod(), CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {}, new Metadata());
    call.cancel("flood", null);
  }

  private static Set<String> serverThreadNames() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(name -> name.startsWith("predictgrpc-server-"))
        .collect(Collectors.toCollection(java.util.HashSet::new));
  }
}
