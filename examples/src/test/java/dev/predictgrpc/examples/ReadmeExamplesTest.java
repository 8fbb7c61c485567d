/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.predictgrpc.client.Batches;
import dev.predictgrpc.client.ModelRef;
import dev.predictgrpc.client.PredictCall;
import dev.predictgrpc.client.PredictClient;
import dev.predictgrpc.client.PredictOptions;
import dev.predictgrpc.client.Prediction;
import dev.predictgrpc.client.PredictionStream;
import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.server.Columns;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.OutputBuilder;
import dev.predictgrpc.server.PredictContext;
import dev.predictgrpc.server.PredictService;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's model and client snippets, as written there, against each other in-process. */
class ReadmeExamplesTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  // Verbatim from the README's "Serve a model".
  static final class RowSumModel extends ModelService {           // name() defaults to "row-sum"
    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      Float4Vector a = Columns.float32(input, "a");         // INVALID_ARGUMENT naming 'a' if it is
      Float4Vector b = Columns.float32(input, "b");         // missing or not float32
      try (OutputBuilder out = ctx.output(input.getRowCount())) {   // from the call's allocator
        Float4Vector sum = out.float32("sum");              // every row null until set
        for (int i = 0; i < out.rows(); i++) {
          if (!a.isNull(i) && !b.isNull(i)) {
            sum.set(i, a.get(i) + b.get(i));
          }
        }
        return out.build();                                 // the library closes it after sending
      }                                                     // (an exception frees the columns)
    }
  }

  /** Stands for the README's {@code source}: fills the arrays, returns the row count. */
  private static final class Source {
    private int calls;

    int read(float[] a, float[] b) {
      if (calls == 5) {
        return 0;
      }
      int n = calls == 4 ? 3 : a.length;
      for (int i = 0; i < n; i++) {
        a[i] = calls;
        b[i] = i;
      }
      calls++;
      return n;
    }
  }

  @Test
  void readmeSnippets_runAsWritten() throws Exception {
    BufferAllocator allocator = arrow.allocator();
    String name = InProcessServerBuilder.generateName();
    try (PredictService service = PredictService.builder(allocator).addModel(new RowSumModel()).build()) {
      Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        // "Call it"
        try (PredictClient client = PredictClient.create(channel, allocator);
            VectorSchemaRoot input = Batches.builder(allocator)
                .float32("a", new float[] {1, 2, 3})
                .float32("b", new Float[] {10f, null, 30f})      // a null value
                .build();
            VectorSchemaRoot output = client.predict("row-sum", input)) {   // you own the result
          assertThat(output.contentToTSVString()).isEqualTo("sum\n11.0\nnull\n33.0\n");

          PredictOptions options = PredictOptions.defaults().withDeadline(Duration.ofMillis(2000));
          try (Prediction p = client.predict("row-sum", input, options)) {
            assertThat(p.modelVersion()).isEqualTo("1");
            assertThat(p.root().getRowCount()).isEqualTo(3);
          }
          try (Prediction p = client.predict("row-sum", input, options.withVersion("9"))) {
            fail("version 9 answered: " + p);
          } catch (PredictException e) {
            assertThat(e.isNotFound()).isTrue();
          }

          // "Stream a table": the Batches.reusable snippet, with a reader thread.
          Source source = new Source();
          float[] a = new float[64];
          float[] b = new float[64];
          AtomicReference<Throwable> writerFailure = new AtomicReference<>();
          int[] rows = new int[5];
          try (Batches.Reusable batch = Batches.reusable(allocator);
              PredictCall call = client.openStream(ModelRef.of("row-sum"))) {
            Thread reader =
                new Thread(
                    () -> {
                      PredictionStream results = call.results();
                      int k = 0;
                      while (results.next()) {
                        rows[k++] = results.root().getRowCount();
                      }
                    });
            reader.start();
            try {
              for (int n; (n = source.read(a, b)) > 0; ) {
                call.write(batch.rows(n).float32("a", a).float32("b", b).root());
              }
              call.complete();
            } catch (RuntimeException e) {
              writerFailure.set(e);
            }
            reader.join(10_000);
          }
          assertThat(writerFailure.get()).isNull();
          assertThat(rows).containsExactly(64, 64, 64, 64, 3);
        }
      } finally {
        channel.shutdownNow();
        server.shutdownNow().awaitTermination();
      }
    }
  }
}
