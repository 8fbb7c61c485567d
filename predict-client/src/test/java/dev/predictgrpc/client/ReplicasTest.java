/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Three replicas on loopback behind one client: round_robin, health checks, unary retries. */
class ReplicasTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  /** Answers every row with the number of the replica it runs on. */
  static final class ReplicaIdModel extends ModelService {
    private final int replica;

    ReplicaIdModel(int replica) {
      this.replica = replica;
    }

    @Override
    public String name() {
      return "replica-id";
    }

    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      IntVector id = new IntVector("replica", ctx.allocator());
      id.allocateNew(input.getRowCount());
      for (int i = 0; i < input.getRowCount(); i++) {
        id.set(i, replica);
      }
      id.setValueCount(input.getRowCount());
      return VectorSchemaRoot.of(id);
    }
  }

  private static int replicaOf(PredictClient client, VectorSchemaRoot input) {
    try (VectorSchemaRoot output = client.predict("replica-id", input)) {
      return ((IntVector) output.getVector(0)).get(0);
    }
  }

  /** Starts {@code count} replicas on loopback, numbered from 0, adding them to the lists. */
  private void startReplicas(int count, List<PredictServer> servers, List<String> addresses)
      throws java.io.IOException {
    for (int r = 0; r < count; r++) {
      PredictServer server =
          PredictServer.builder(arrow.allocator())
              .bindAddress("127.0.0.1")
              .addModel(new ReplicaIdModel(r))
              .build()
              .start();
      servers.add(server);
      addresses.add("127.0.0.1:" + server.port());
    }
  }

  @Test
  void callsSpreadOverAllReplicas_andKeepSucceedingAfterOneStops() throws Exception {
    List<PredictServer> servers = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    try {
      startReplicas(3, servers, addresses);
      try (PredictClient client = PredictClient.builder(addresses, arrow.allocator()).build();
          VectorSchemaRoot input =
              Batches.builder(arrow.allocator()).int32("x", new int[] {1}).build()) {
        // round_robin starts once every subchannel has had a chance to connect.
        replicaOf(client, input);
        Map<Integer, Integer> served = new TreeMap<>();
        for (int i = 0; i < 60; i++) {
          served.merge(replicaOf(client, input), 1, Integer::sum);
        }
        assertThat(served).as("calls per replica").containsOnlyKeys(0, 1, 2);
        assertThat(served.values()).allSatisfy(n -> assertThat(n).isGreaterThanOrEqualTo(10));

        // A hard stop: connections drop, health never says goodbye; retries cover the gap.
        servers.get(1).close();
        Map<Integer, Integer> after = new TreeMap<>();
        for (int i = 0; i < 60; i++) {
          after.merge(replicaOf(client, input), 1, Integer::sum);
        }
        assertThat(after).as("calls per replica after replica 1 stopped").containsOnlyKeys(0, 2);
        assertThat(after.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(60);
      }
    } finally {
      for (PredictServer server : servers) {
        server.close();
      }
    }
  }

  @Test
  void drainingReplica_getsNoNewCalls_onceHealthSaysNotServing() throws Exception {
    List<PredictServer> servers = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    try {
      startReplicas(2, servers, addresses);
      try (PredictClient client = PredictClient.builder(addresses, arrow.allocator()).build();
          VectorSchemaRoot input =
              Batches.builder(arrow.allocator()).int32("x", new int[] {1}).build()) {
        for (int i = 0; i < 10; i++) {
          replicaOf(client, input);
        }
        servers.get(0).shutdown(); // Graceful: health turns NOT_SERVING, the port closes.
        servers.get(0).awaitTermination(java.time.Duration.ofSeconds(10));
        for (int i = 0; i < 20; i++) {
          assertThat(replicaOf(client, input)).isEqualTo(1);
        }
      }
    } finally {
      for (PredictServer server : servers) {
        server.close();
      }
    }
  }
}
