/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.predictgrpc.testing.ArrowAllocatorExtension;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The defaults a ModelService subclass gets without overriding anything but predict. */
class ModelServiceDefaultsTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  static final class IrisClassifierModel extends ModelService {
    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input;
    }
  }

  static final class Resnet50Scorer extends ModelService {
    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input;
    }
  }

  static final class Model extends ModelService {
    @Override
    public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
      return input;
    }
  }

  @Test
  void defaults_nameFromClassVersionOneNoSchemas() throws Exception {
    IrisClassifierModel model = new IrisClassifierModel();

    assertThat(model.name()).isEqualTo("iris-classifier");
    assertThat(model.version()).isEqualTo("1");
    assertThat(model.inputSchema()).isNull();
    assertThat(model.outputSchema()).isNull();
    assertThat(model.description()).isEmpty();
    assertThat(model).hasToString("iris-classifier:1");
    model.start();
    model.close();
  }

  @Test
  void defaultName_kebabCaseWithoutModelSuffix() {
    assertThat(new Resnet50Scorer().name()).isEqualTo("resnet50-scorer");
    assertThat(new Model().name()).isEqualTo("model");
  }

  @Test
  void defaultModel_echoingItsInput_servesAnyInputUnchecked() throws Exception {
    try (InProcessPredict p =
        InProcessPredict.start(arrow.allocator(), new IrisClassifierModel())) {
      Batches.Decoded out =
          Rpc.STREAM
              .call(
                  p,
                  "iris-classifier",
                  Batches.floatStream(arrow.allocator(), true, new int[] {2, 3}, "p", "q"))
              .ok();
      assertThat(out.rowCounts()).containsExactly(2, 3);
      assertThat(out.batches().get(1).column("q")).containsExactly(1000.5f, 1001.5f, 1002.5f);
    }
  }

  @Test
  void anonymousModel_hasNoName_rejectedAtBuild() {
    ModelService anonymous =
        new ModelService() {
          @Override
          public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
            return input;
          }
        };
    assertThatThrownBy(() -> PredictService.builder(arrow.allocator()).addModel(anonymous).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("empty name");
  }
}
