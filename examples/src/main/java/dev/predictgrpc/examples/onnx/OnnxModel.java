/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.onnx;

import static java.util.Objects.requireNonNull;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.OutputBuilder;
import dev.predictgrpc.server.PredictContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * Serves any ONNX model with ONNX Runtime.
 *
 * <p>The Arrow schemas come from the model's own inputs and outputs ({@link TensorColumns} states
 * the mapping): a tensor of shape {@code [N]} is one column; {@code [N, K]} is K columns, named
 * by the model's {@code predictgrpc.feature_names.<input>} metadata property when it has one (a
 * comma-separated list), else {@code <name>_0 .. <name>_K-1}. Each batch becomes one tensor per
 * input in a direct buffer that ONNX Runtime reads in place, and every native tensor and result
 * is closed before {@link #predict} returns.
 *
 * <pre>{@code
 * ModelService iris = OnnxModel.builder("iris", Path.of("iris_gbt.onnx")).build();
 * }</pre>
 *
 * <p>Thread-safe: ONNX Runtime sessions run concurrent calls.
 */
public final class OnnxModel extends ModelService {
  private static final String FEATURE_NAMES_PREFIX = "predictgrpc.feature_names.";

  private final String name;
  private final String version;
  private final String description;
  private final byte[] modelBytes;
  private final Map<String, List<String>> featureNameOverrides;
  private @Nullable OrtEnvironment environment;
  private @Nullable OrtSession session;
  private List<TensorColumns> inputs = List.of();
  private List<TensorColumns> outputs = List.of();
  private @Nullable Schema inputSchema;
  private @Nullable Schema outputSchema;

  private OnnxModel(Builder builder) {
    this.name = builder.name;
    this.version = builder.version;
    this.description = builder.description;
    this.modelBytes = builder.modelBytes;
    this.featureNameOverrides = Map.copyOf(builder.featureNames);
  }

  /** Starts building a model named {@code name} from an ONNX file. */
  public static Builder builder(String name, Path modelFile) throws IOException {
    return new Builder(name, Files.readAllBytes(modelFile));
  }

  /** Starts building a model named {@code name} from the bytes of an ONNX file. */
  public static Builder builder(String name, byte[] modelBytes) {
    return new Builder(name, modelBytes.clone());
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public String version() {
    return version;
  }

  @Override
  public String description() {
    return description;
  }

  @Override
  public @Nullable Schema inputSchema() {
    return inputSchema;
  }

  @Override
  public @Nullable Schema outputSchema() {
    return outputSchema;
  }

  /** Opens the ONNX Runtime session and derives the Arrow schemas from it. */
  @Override
  public void start() throws OrtException {
    environment = OrtEnvironment.getEnvironment();
    session = environment.createSession(modelBytes, new OrtSession.SessionOptions());
    Map<String, String> metadata = session.getMetadata().getCustomMetadata();
    List<TensorColumns> in = new ArrayList<>();
    for (var entry : session.getInputInfo().entrySet()) {
      String input = entry.getKey();
      List<String> names = featureNameOverrides.get(input);
      if (names == null && metadata.containsKey(FEATURE_NAMES_PREFIX + input)) {
        names = List.of(metadata.get(FEATURE_NAMES_PREFIX + input).split(","));
      }
      in.add(TensorColumns.of(input, entry.getValue().getInfo(), names));
    }
    List<TensorColumns> out = new ArrayList<>();
    for (var entry : session.getOutputInfo().entrySet()) {
      out.add(TensorColumns.of(entry.getKey(), entry.getValue().getInfo(), null));
    }
    inputs = List.copyOf(in);
    outputs = List.copyOf(out);
    inputSchema = schemaOf(inputs);
    outputSchema = schemaOf(outputs);
  }

  @Override
  public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) throws OrtException {
    int rows = input.getRowCount();
    // The builder frees the output columns if anything below throws, native errors included.
    try (OutputBuilder out = ctx.output(rows)) {
      List<List<BaseFixedWidthVector>> columns = new ArrayList<>(outputs.size());
      for (TensorColumns spec : outputs) {
        columns.add(spec.addColumns(out));
      }
      if (rows > 0) { // An empty batch gets empty columns without asking ONNX Runtime.
        run(input, rows, columns);
      }
      return out.build();
    }
  }

  /** Scores the batch and copies every output tensor into its columns. */
  private void run(VectorSchemaRoot input, int rows, List<List<BaseFixedWidthVector>> columns)
      throws OrtException {
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      int column = 0;
      for (TensorColumns spec : inputs) {
        List<FieldVector> specColumns = input.getFieldVectors().subList(column, column + spec.width());
        feeds.put(spec.name(), spec.toTensor(environment, specColumns, rows));
        column += spec.width();
      }
      try (OrtSession.Result result = session.run(feeds)) {
        for (int i = 0; i < outputs.size(); i++) {
          TensorColumns spec = outputs.get(i);
          OnnxValue value =
              result.get(spec.name()).orElseThrow(() -> new IllegalStateException("no output " + spec.name()));
          spec.copyInto((OnnxTensor) value, columns.get(i), rows);
        }
      }
    } finally {
      feeds.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    if (session != null) {
      try {
        session.close();
      } catch (OrtException e) {
        throw new IllegalStateException("could not close the ONNX Runtime session", e);
      }
      session = null;
    }
  }

  private static Schema schemaOf(List<TensorColumns> tensors) {
    List<Field> fields = new ArrayList<>();
    tensors.forEach(t -> fields.addAll(t.fields()));
    return new Schema(fields);
  }

  /** Builds an {@link OnnxModel}. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private final byte[] modelBytes;
    private String version = "1";
    private String description = "";
    private final Map<String, List<String>> featureNames = new LinkedHashMap<>();

    private Builder(String name, byte[] modelBytes) {
      this.name = requireNonNull(name, "name");
      this.modelBytes = requireNonNull(modelBytes, "modelBytes");
    }

    /** The version to serve this file as. Default "1". */
    public Builder version(String version) {
      this.version = requireNonNull(version, "version");
      return this;
    }

    /** A one-line description. Default: empty. */
    public Builder description(String description) {
      this.description = requireNonNull(description, "description");
      return this;
    }

    /** Names the columns of a {@code [N, K]} input, overriding the model's metadata. */
    public Builder featureNames(String input, List<String> names) {
      featureNames.put(requireNonNull(input, "input"), List.copyOf(names));
      return this;
    }

    /** Creates the model; the ONNX Runtime session opens when the server starts it. */
    public OnnxModel build() {
      return new OnnxModel(this);
    }
  }
}
