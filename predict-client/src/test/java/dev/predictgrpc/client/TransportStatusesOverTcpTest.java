/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.time.Duration;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a caller reads when gRPC itself ends a call over real TCP: a request over the server's
 * size limit, and the client's own deadline.
 */
class TransportStatusesOverTcpTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  @Test
  void unaryRequestOverTheServersLimit_andAMissedDeadline_readAsAdvice() throws Exception {
    TestModels.BlockingModel blocking = new TestModels.BlockingModel();
    try (PredictServer server =
            PredictServer.builder(arrow.allocator())
                .bindAddress("127.0.0.1")
                .addModel(new TestModels.EchoModel())
                .addModel(blocking)
                .build()
                .start();
        PredictClient client =
            PredictClient.builder("127.0.0.1:" + server.port(), arrow.allocator()).build()) {
      float[] values = new float[1_200_000]; // 4.8 MB of float32: over the 4 MiB limit.
      try (VectorSchemaRoot big = Batches.builder(arrow.allocator()).float32("x", values).build()) {
        PredictException tooBig =
            catchThrowableOfType(PredictException.class, () -> client.predict("echo", big).close());

        assertThat(tooBig.isResourceExhausted()).isTrue();
        assertThat(tooBig.getMessage()).contains("4194304", "predictStream");
      }

      try (VectorSchemaRoot one =
          Batches.builder(arrow.allocator()).float32("x", new float[] {1}).build()) {
        PredictException late =
            catchThrowableOfType(
                PredictException.class,
                () ->
                    client
                        .predict(
                            ModelRef.of("blocking"),
                            one,
                            PredictOptions.defaults().withDeadline(Duration.ofMillis(200)))
                        .close());

        assertThat(late.isDeadlineExceeded()).isTrue();
        assertThat(late.getMessage()).contains("deadline").doesNotContain("remote_addr");
      } finally {
        blocking.release.countDown();
      }
    }
  }
}
