/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static dev.predictgrpc.server.WireAssertions.assertCleanError;
import static dev.predictgrpc.server.WireAssertions.statusOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.FieldInfo;
import dev.predictgrpc.api.v1.GetModelMetadataRequest;
import dev.predictgrpc.api.v1.ListModelsRequest;
import dev.predictgrpc.api.v1.ListModelsResponse;
import dev.predictgrpc.api.v1.ModelMetadata;
import dev.predictgrpc.api.v1.ModelSpec;
import dev.predictgrpc.api.v1.ModelSummary;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.util.List;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** ListModels and GetModelMetadata through the raw generated blocking stub. */
class MetadataTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static final Schema INPUT = TestModel.floatSchema(false, "a", "b");
  private static final Schema OUTPUT =
      new Schema(
          List.of(
              Field.nullable("score", TestModel.FLOAT4),
              new Field(
                  "labels",
                  FieldType.nullable(new ArrowType.List()),
                  List.of(Field.nullable("item", new ArrowType.Int(32, true))))));

  private InProcessPredict start() {
    return InProcessPredict.builder(arrow.allocator())
        .model(TestModel.scale("zeta").description("the last one"))
        .model(TestModel.scale("alpha").version("10").description("alpha ten"))
        .model(TestModel.scale("alpha").version("2").description("alpha two"))
        .model(TestModel.scale("alpha").version("9").description("alpha nine"))
        .model(TestModel.scale("typed").input(INPUT).output(OUTPUT).description("typed model"))
        .start();
  }

  @Test
  void listModels_sortedByName_versionsOldestFirst_latestDescription() throws Exception {
    try (InProcessPredict p = start()) {
      ListModelsResponse response = p.blocking().listModels(ListModelsRequest.getDefaultInstance());

      assertThat(response.getModelsList())
          .extracting(ModelSummary::getName)
          .containsExactly("alpha", "scale", "typed", "zeta");
      ModelSummary alpha = response.getModels(0);
      assertThat(alpha.getVersionsList()).containsExactly("2", "9", "10");
      assertThat(alpha.getDescription()).isEqualTo("alpha ten");
      assertThat(response.getModels(3).getVersionsList()).containsExactly("1");
      assertThat(response.getModels(3).getDescription()).isEqualTo("the last one");
    }
  }

  @Test
  void getModelMetadata_schemasDecodeToTheDeclaredOnes() throws Exception {
    try (InProcessPredict p = start()) {
      ModelMetadata metadata = p.blocking().getModelMetadata(metadataRequest("typed", ""));

      assertThat(metadata.getModel())
          .isEqualTo(ModelSpec.newBuilder().setName("typed").setVersion("1").build());
      assertThat(metadata.getDescription()).isEqualTo("typed model");
      assertThat(readSchema(metadata.getInputSchema())).isEqualTo(INPUT);
      assertThat(readSchema(metadata.getOutputSchema())).isEqualTo(OUTPUT);
    }
  }

  @Test
  void getModelMetadata_readableFieldInfo() throws Exception {
    try (InProcessPredict p = start()) {
      ModelMetadata metadata = p.blocking().getModelMetadata(metadataRequest("typed", "1"));

      assertThat(metadata.getInputFieldsList())
          .containsExactly(
              field("a", "FloatingPoint(SINGLE)", false),
              field("b", "FloatingPoint(SINGLE)", false));
      assertThat(metadata.getOutputFields(0))
          .isEqualTo(field("score", "FloatingPoint(SINGLE)", true));
      FieldInfo labels = metadata.getOutputFields(1);
      assertThat(labels.getName()).isEqualTo("labels");
      assertThat(labels.getType()).isEqualTo("List<item: Int(32, true)>");
      assertThat(labels.getNullable()).isTrue();
      assertThat(labels.getChildrenList()).containsExactly(field("item", "Int(32, true)", true));
    }
  }

  @Test
  void getModelMetadata_undeclaredSchemasAreEmpty() throws Exception {
    try (InProcessPredict p = start()) {
      ModelMetadata metadata = p.blocking().getModelMetadata(metadataRequest("zeta", ""));

      assertThat(metadata.getInputSchema()).isEqualTo(ByteString.EMPTY);
      assertThat(metadata.getOutputSchema()).isEqualTo(ByteString.EMPTY);
      assertThat(metadata.getInputFieldsList()).isEmpty();
      assertThat(metadata.getOutputFieldsList()).isEmpty();
    }
  }

  @Test
  void getModelMetadata_emptyVersionIsLatest_explicitVersionIsThatOne() throws Exception {
    try (InProcessPredict p = start()) {
      ModelMetadata latest = p.blocking().getModelMetadata(metadataRequest("alpha", ""));
      assertThat(latest.getModel().getVersion()).isEqualTo("10");
      assertThat(latest.getDescription()).isEqualTo("alpha ten");

      ModelMetadata nine = p.blocking().getModelMetadata(metadataRequest("alpha", "9"));
      assertThat(nine.getModel().getVersion()).isEqualTo("9");
      assertThat(nine.getDescription()).isEqualTo("alpha nine");
    }
  }

  @Test
  void getModelMetadata_unknownModel_notFound() throws Exception {
    try (InProcessPredict p = start()) {
      Status status =
          statusOf(() -> p.blocking().getModelMetadata(metadataRequest("no-such-model", "")));
      assertCleanError(status, Status.Code.NOT_FOUND, "no-such-model");

      Status version = statusOf(() -> p.blocking().getModelMetadata(metadataRequest("alpha", "3")));
      assertCleanError(version, Status.Code.NOT_FOUND, "alpha", "'3'");

      Status empty = statusOf(() -> p.blocking().getModelMetadata(metadataRequest("", "")));
      assertCleanError(empty, Status.Code.INVALID_ARGUMENT, "model");

      assertThat(p.blocking().getModelMetadata(metadataRequest("zeta", "")).getModel().getName())
          .isEqualTo("zeta");
    }
  }

  /**
   * Not all versions are integers, so they are ordered as strings. Pairwise numeric comparison
   * would be cyclic here ("1a" < "2" < "10" < "1a"), which corrupts a sorted map: in this insertion
   * order some hosted versions could not be found.
   */
  @Test
  void mixedIntegerAndTextVersions_stringOrder_everyVersionResolvable() throws Exception {
    List<String> hosted = List.of("01x", "100x", "1a", "20", "b", "9", "10", "2", "3");
    InProcessPredict.Builder builder = InProcessPredict.builder(arrow.allocator());
    for (String version : hosted) {
      builder.model(TestModel.scale("mixed").version(version).description("v" + version));
    }
    try (InProcessPredict p = builder.start()) {
      ModelSummary mixed =
          p.blocking().listModels(ListModelsRequest.getDefaultInstance()).getModels(0);
      assertThat(mixed.getVersionsList())
          .containsExactly("01x", "10", "100x", "1a", "2", "20", "3", "9", "b");
      for (String version : hosted) {
        ModelMetadata metadata = p.blocking().getModelMetadata(metadataRequest("mixed", version));
        assertThat(metadata.getModel().getVersion()).isEqualTo(version);
        assertThat(metadata.getDescription()).isEqualTo("v" + version);
      }
      ModelMetadata latest = p.blocking().getModelMetadata(metadataRequest("mixed", ""));
      assertThat(latest.getModel().getVersion()).isEqualTo("b");
    }
  }

  private static GetModelMetadataRequest metadataRequest(String name, String version) {
    return GetModelMetadataRequest.newBuilder()
        .setModel(ModelSpec.newBuilder().setName(name).setVersion(version))
        .build();
  }

  private static FieldInfo field(String name, String type, boolean nullable) {
    return FieldInfo.newBuilder().setName(name).setType(type).setNullable(nullable).build();
  }

  /** Reads an encapsulated IPC Schema message, as pyarrow.ipc.read_schema would. */
  private static Schema readSchema(ByteString bytes) throws IOException {
    assertThat(bytes.isEmpty()).isFalse();
    return MessageSerializer.deserializeSchema(
        new ReadChannel(Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray()))));
  }
}
