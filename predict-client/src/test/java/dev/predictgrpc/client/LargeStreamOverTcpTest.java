/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.ServerLimits;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Streams a 256 MiB table through an echo model over real loopback TCP, in 1 MiB chunks, with the
 * server's inbound message limit at gRPC's 4 MiB default, and checks every value that comes back
 * and that neither side's Arrow memory grew with the table; then the transport's tuning knobs at
 * their small extreme.
 */
class LargeStreamOverTcpTest {
  private static final int COLUMNS = 16;
  private static final int ROWS_PER_BATCH = 65_536; // 4 MiB of float32 per batch
  private static final int BATCHES = 64; // 64 x 4 MiB = 256 MiB
  private static final long TABLE_BYTES = (long) COLUMNS * ROWS_PER_BATCH * BATCHES * 4;

  /**
   * The bound: three 4 MiB batches on each side, whatever the table's size. Each side holds one
   * message body at a time (Arrow rounds a 4.3 MB body up to an 8 MiB buffer). A buffering
   * implementation would need the whole 256 MiB.
   */
  private static final long MEMORY_BOUND = 12L << 20;

  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void table256MiB_streamsThroughEcho_withBoundedMemory() throws Exception {
    BufferAllocator serverAllocator = arrow.allocator().newChildAllocator("server", 0, Long.MAX_VALUE);
    BufferAllocator clientAllocator = arrow.allocator().newChildAllocator("client", 0, Long.MAX_VALUE);
    // The generator's own batch is the caller's memory, not the client library's.
    BufferAllocator tableAllocator = arrow.allocator().newChildAllocator("table", 0, Long.MAX_VALUE);
    ServerLimits limits = ServerLimits.defaults();
    assertThat(limits.maxInboundMessageBytes()).isEqualTo(4 << 20);
    assertThat(limits.maxChunkBytes()).isEqualTo(1 << 20);
    long start = System.nanoTime();
    long rows = 0;
    try (PredictServer server =
            PredictServer.builder(serverAllocator)
                .bindAddress("127.0.0.1")
                .addModel(new TestModels.EchoModel())
                .build()
                .start();
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), clientAllocator).build();
        GeneratedBatches table = new GeneratedBatches(tableAllocator, COLUMNS, ROWS_PER_BATCH, BATCHES);
        PredictionStream results = client.predictStream(ModelRef.of("echo"), table)) {
      int batch = 0;
      while (results.next()) {
        VectorSchemaRoot root = results.root();
        GeneratedBatches.check(root, batch, COLUMNS, ROWS_PER_BATCH); // every value
        rows += root.getRowCount();
        batch++;
      }
      assertThat(batch).isEqualTo(BATCHES);
      assertThat(table.produced()).isEqualTo(BATCHES);
      long serverPeak = server.service().peakAllocatedBytes();
      long clientPeak = clientAllocator.getPeakMemoryAllocation();
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(
          "streamed %d MiB (%d rows) in %.2f s (%.0f MiB/s each way); peak Arrow memory: server %.1f"
              + " MiB, client %.1f MiB (bound %d MiB)%n",
          TABLE_BYTES >> 20, rows, seconds, (TABLE_BYTES >> 20) / seconds, serverPeak / 1048576.0,
          clientPeak / 1048576.0, MEMORY_BOUND >> 20);
      assertThat(serverPeak).as("server peak Arrow memory").isLessThan(MEMORY_BOUND);
      assertThat(clientPeak).as("client peak Arrow memory").isLessThan(MEMORY_BOUND);
    }
    assertThat(rows).isEqualTo((long) ROWS_PER_BATCH * BATCHES);
    serverAllocator.close();
    clientAllocator.close();
    tableAllocator.close();
  }

  /**
   * The tuning knobs at their small extreme: 64 KiB flow-control windows on both sides (gRPC
   * starts at 1 MiB) and 64 KiB chunks, so every batch spans many messages and each side keeps
   * waiting for window updates. Every value must still arrive, in order.
   */
  @Test
  void smallFlowControlWindows_andSmallChunks_stillDeliverEveryValue() throws Exception {
    int rowsPerBatch = 8_192; // 512 KiB of float32 per batch: 8 chunks of 64 KiB
    int batches = 16;
    BufferAllocator serverAllocator = arrow.allocator().newChildAllocator("server", 0, Long.MAX_VALUE);
    BufferAllocator clientAllocator = arrow.allocator().newChildAllocator("client", 0, Long.MAX_VALUE);
    BufferAllocator tableAllocator = arrow.allocator().newChildAllocator("table", 0, Long.MAX_VALUE);
    try (PredictServer server =
            PredictServer.builder(serverAllocator)
                .bindAddress("127.0.0.1")
                .addModel(new TestModels.EchoModel())
                .limits(ServerLimits.builder().maxChunkBytes(64 << 10).build())
                .flowControlWindow(64 << 10)
                .build()
                .start();
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), clientAllocator)
                .maxChunkBytes(64 << 10)
                .flowControlWindow(64 << 10)
                .build();
        GeneratedBatches table = new GeneratedBatches(tableAllocator, COLUMNS, rowsPerBatch, batches);
        PredictionStream results = client.predictStream(ModelRef.of("echo"), table)) {
      int batch = 0;
      while (results.next()) {
        GeneratedBatches.check(results.root(), batch, COLUMNS, rowsPerBatch);
        batch++;
      }
      assertThat(batch).isEqualTo(batches);
    }
    serverAllocator.close();
    clientAllocator.close();
    tableAllocator.close();
  }

  @Test
  void flowControlWindow_mustBePositive_onBothBuilders() {
    assertThatThrownBy(() -> PredictServer.builder(arrow.allocator()).flowControlWindow(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("flowControlWindow: 0");
    assertThatThrownBy(
            () -> PredictClient.builder("127.0.0.1:1", arrow.allocator()).flowControlWindow(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("flowControlWindow: -1");
  }
}
