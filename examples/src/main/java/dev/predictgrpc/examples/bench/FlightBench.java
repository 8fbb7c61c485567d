/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.util.Iterator;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightClient.ClientStreamListener;
import org.apache.arrow.flight.FlightClient.ExchangeReaderWriter;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The same echo and score work over Apache Arrow Flight's DoExchange, written the way Flight's own
 * examples do it (defaults everywhere: no zero-copy option, no custom backpressure). The
 * descriptor's command names the model.
 */
final class FlightBench {
  private FlightBench() {}

  static RunningServer serve(BufferAllocator allocator) throws IOException {
    FlightServer server =
        FlightServer.builder(
                allocator, Location.forGrpcInsecure("127.0.0.1", 0), new Producer(allocator))
            .build()
            .start();
    return RunningServer.of(server.getPort(), server);
  }

  /** Echoes or scores each batch of a DoExchange as it arrives. */
  static final class Producer extends NoOpFlightProducer {
    private final BufferAllocator allocator;

    Producer(BufferAllocator allocator) {
      this.allocator = allocator;
    }

    @Override
    public void doExchange(CallContext context, FlightStream reader, ServerStreamListener writer) {
      String model = new String(reader.getDescriptor().getCommand(), UTF_8);
      try {
        if (model.equals("echo")) {
          // Flight sends what the reader's root holds; the reader reloads that root in place.
          writer.start(reader.getRoot());
          while (reader.next()) {
            writer.putNext();
          }
          writer.completed();
        } else if (model.equals("score")) {
          try (VectorSchemaRoot output =
              VectorSchemaRoot.create(BenchTable.SCORE_SCHEMA, allocator)) {
            writer.start(output);
            while (reader.next()) {
              RowSum.compute(reader.getRoot(), (Float4Vector) output.getVector(0));
              output.setRowCount(reader.getRoot().getRowCount());
              writer.putNext(); // copies the batch into gRPC buffers before it returns
            }
            writer.completed();
          }
        } else {
          writer.error(
              CallStatus.NOT_FOUND.withDescription("no model " + model).toRuntimeException());
        }
      } catch (RuntimeException e) {
        writer.error(e);
      }
    }
  }

  static final class Client implements BenchClient {
    private final BenchTable table;
    private final FlightClient client;

    /** DoExchange needs a second thread: results are read while input is still being sent. */
    private final ExecutorService resultReader =
        Executors.newSingleThreadExecutor(
            task -> {
              Thread thread = new Thread(task, "flight-result-reader");
              thread.setDaemon(true);
              return thread;
            });

    Client(int port, BufferAllocator allocator, BenchTable table) {
      this.table = table;
      this.client =
          FlightClient.builder(allocator, Location.forGrpcInsecure("127.0.0.1", port)).build();
    }

    @Override
    public long stream(String model, long rows) throws Exception {
      try (ExchangeReaderWriter exchange =
          client.doExchange(FlightDescriptor.command(model.getBytes(UTF_8)))) {
        FlightStream results = exchange.getReader();
        Future<Long> received =
            resultReader.submit(
                () -> {
                  long count = 0;
                  while (results.next()) {
                    table.check(model, results.getRoot());
                    count += results.getRoot().getRowCount();
                  }
                  return count;
                });
        ClientStreamListener writer = exchange.getWriter();
        VectorSchemaRoot batch = table.batch();
        writer.start(batch);
        for (Iterator<VectorSchemaRoot> batches = table.batches(rows); batches.hasNext(); ) {
          batches.next(); // sets the row count of the shared batch
          writer.putNext();
        }
        writer.completed();
        long count = received.get();
        writer.getResult();
        return count;
      } finally {
        table.restore();
      }
    }

    @Override
    public void close() throws InterruptedException {
      resultReader.shutdownNow();
      client.close();
    }
  }
}
