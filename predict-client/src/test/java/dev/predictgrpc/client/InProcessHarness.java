/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.server.ServerLimits;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;

/** A real PredictService on the in-process transport, with a real client on a borrowed channel. */
final class InProcessHarness implements AutoCloseable {
  final PredictService service;
  final Server server;
  final ManagedChannel channel;
  final PredictClient client;

  InProcessHarness(BufferAllocator allocator, ModelService... models) {
    this(allocator, ServerLimits.defaults(), models);
  }

  InProcessHarness(BufferAllocator allocator, ServerLimits limits, ModelService... models) {
    PredictService.Builder builder = PredictService.builder(allocator).limits(limits);
    for (ModelService model : models) {
      builder.addModel(model);
    }
    service = builder.build();
    String name = InProcessServerBuilder.generateName();
    try {
      server =
          InProcessServerBuilder.forName(name)
              .maxInboundMessageSize(limits.maxInboundMessageBytes())
              .addService(service)
              .build()
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel = InProcessChannelBuilder.forName(name).build();
    client = PredictClient.create(channel, allocator);
  }

  /** Waits briefly for the server's calls to release their memory (cleanup runs after replies). */
  long serverBytesAfterCalls() throws InterruptedException {
    for (int i = 0; i < 200 && service.allocatedBytes() != 0; i++) {
      Thread.sleep(10);
    }
    return service.allocatedBytes();
  }

  @Override
  public void close() throws InterruptedException {
    client.close();
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    service.close();
  }
}
