/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.ClientText;
import dev.predictgrpc.common.internal.OipDatatype;
import dev.predictgrpc.common.internal.TensorLayout;
import dev.predictgrpc.common.internal.TensorReader;
import dev.predictgrpc.common.internal.TensorWriter;
import dev.predictgrpc.server.ModelService;
import inference.GRPCInferenceServiceGrpc;
import inference.OpenInferenceGrpc.InferParameter;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferRequest.InferInputTensor;
import inference.OpenInferenceGrpc.ModelInferRequest.InferRequestedOutputTensor;
import inference.OpenInferenceGrpc.ModelInferResponse;
import inference.OpenInferenceGrpc.ModelInferResponse.InferOutputTensor;
import inference.OpenInferenceGrpc.ModelMetadataRequest;
import inference.OpenInferenceGrpc.ModelMetadataResponse;
import inference.OpenInferenceGrpc.ModelMetadataResponse.TensorMetadata;
import inference.OpenInferenceGrpc.ModelReadyRequest;
import inference.OpenInferenceGrpc.ModelReadyResponse;
import inference.OpenInferenceGrpc.ServerLiveRequest;
import inference.OpenInferenceGrpc.ServerLiveResponse;
import inference.OpenInferenceGrpc.ServerMetadataRequest;
import inference.OpenInferenceGrpc.ServerMetadataResponse;
import inference.OpenInferenceGrpc.ServerReadyRequest;
import inference.OpenInferenceGrpc.ServerReadyResponse;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.jspecify.annotations.Nullable;

/**
 * The gRPC binding of the Open Inference Protocol ({@code inference.GRPCInferenceService}) over the
 * same models, memory budget, limits, access rules and statistics as the prediction service it was
 * made from ({@link PredictionServiceImpl#openInference()}). A {@code ModelInfer} call is one input
 * batch: its tensors become the columns of one Arrow batch (see {@link TensorLayout}), which is
 * scored exactly as a {@code Predict} batch is (schema check, batching, statistics), and the output
 * columns become output tensors. Thread-safe: it holds only immutable configuration.
 */
public final class OpenInferenceServiceImpl
    extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
  /** What {@code ModelMetadata} reports as every model's platform. */
  static final String PLATFORM = "predict-grpc";

  private static final String SERVER_NAME = "predict-grpc";

  /** Room for the response's model name, version and id beside its tensors. */
  private static final int ENVELOPE_BYTES = 1024;

  /**
   * Room for one output tensor's tags, lengths and datatype beside its name, shape and elements.
   */
  private static final int TENSOR_OVERHEAD_BYTES = 32;

  private static final DictionaryProvider NO_DICTIONARIES =
      new DictionaryProvider.MapDictionaryProvider();

  private final ServiceState state;

  OpenInferenceServiceImpl(ServiceState state) {
    this.state = state;
  }

  /**
   * The generated binding, with every request parsed behind {@link RequestParseGuard}, so a request
   * that is not protobuf fails its call cleanly. Mount this, not {@link #bindService()}.
   */
  public ServerServiceDefinition guardedDefinition() {
    return new RequestParseGuard(state.limits.maxInboundMessageBytes()).guardAll(bindService());
  }

  @Override
  public void serverLive(
      ServerLiveRequest request, StreamObserver<ServerLiveResponse> responseObserver) {
    responseObserver.onNext(ServerLiveResponse.newBuilder().setLive(true).build());
    responseObserver.onCompleted();
  }

  /**
   * Ready while the service takes calls: once the server shuts down, gRPC refuses new calls with
   * UNAVAILABLE before they reach this method.
   */
  @Override
  public void serverReady(
      ServerReadyRequest request, StreamObserver<ServerReadyResponse> responseObserver) {
    responseObserver.onNext(ServerReadyResponse.newBuilder().setReady(true).build());
    responseObserver.onCompleted();
  }

  @Override
  public void serverMetadata(
      ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> responseObserver) {
    String version = OpenInferenceServiceImpl.class.getPackage().getImplementationVersion();
    responseObserver.onNext(
        ServerMetadataResponse.newBuilder()
            .setName(SERVER_NAME)
            .setVersion(version != null ? version : "unknown")
            .build());
    responseObserver.onCompleted();
  }

  /** A published version is ready; an unknown model or version is not (no error: a probe asks). */
  @Override
  public void modelReady(
      ModelReadyRequest request, StreamObserver<ModelReadyResponse> responseObserver) {
    boolean ready;
    try {
      ModelService model =
          state.catalog.registry().resolve(request.getName(), request.getVersion());
      state.access.check(model.name());
      ready = true;
    } catch (PredictException e) {
      if (e.code() != Status.Code.NOT_FOUND) {
        responseObserver.onError(
            StatusMapper.toStatus(e, request.getName(), -1).asRuntimeException());
        return;
      }
      ready = false;
    }
    responseObserver.onNext(ModelReadyResponse.newBuilder().setReady(ready).build());
    responseObserver.onCompleted();
  }

  @Override
  public void modelMetadata(
      ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> responseObserver) {
    ModelMetadataResponse.Builder response;
    try {
      ModelRegistry registry = state.catalog.registry();
      ModelService model = registry.resolve(request.getName(), request.getVersion());
      state.access.check(model.name());
      response =
          ModelMetadataResponse.newBuilder()
              .setName(model.name())
              .addAllVersions(registry.versions(model.name()))
              .setPlatform(PLATFORM);
      addTensors(model, "input", model.inputSchema(), response::addInputs);
      addTensors(model, "output", model.outputSchema(), response::addOutputs);
      if (!model.description().isEmpty()) {
        response.putProperties("description", model.description());
      }
    } catch (RuntimeException e) {
      responseObserver.onError(
          StatusMapper.toStatus(e, request.getName(), -1).asRuntimeException());
      return;
    }
    responseObserver.onNext(response.build());
    responseObserver.onCompleted();
  }

  private static void addTensors(
      ModelService model, String role, @Nullable Schema schema, Consumer<TensorMetadata> out) {
    if (schema == null) {
      return;
    }
    for (TensorLayout.Tensor tensor : layout(model, role, schema).tensors()) {
      out.accept(
          TensorMetadata.newBuilder()
              .setName(tensor.name())
              .setDatatype(tensor.datatypeName())
              .addAllShape(tensor.shape(-1))
              .build());
    }
  }

  /**
   * {@code schema}'s tensors, the {@code role}s (e.g. {@code "input"}) of {@code model}.
   *
   * @throws PredictException FAILED_PRECONDITION naming the model and the name if two tensors share
   *     a name, which would mix their data
   */
  private static TensorLayout layout(ModelService model, String role, Schema schema) {
    TensorLayout layout = TensorLayout.of(schema);
    String duplicate = layout.duplicate();
    if (duplicate != null) {
      throw new PredictException(
          Status.Code.FAILED_PRECONDITION,
          "model '"
              + ClientText.name(model.name())
              + "' has two "
              + role
              + " tensors named '"
              + ClientText.name(duplicate)
              + "', which the Open Inference Protocol cannot tell apart; rename a column or its "
              + TensorLayout.TENSOR_KEY
              + " metadata");
    }
    return layout;
  }

  @Override
  public void modelInfer(
      ModelInferRequest request, StreamObserver<ModelInferResponse> responseObserver) {
    UnaryCall.run(
        state,
        request.getModelName(),
        request.getModelVersion(),
        parameters(request.getParametersMap()),
        responseObserver,
        call -> {
          ModelService model = call.model();
          ModelInferResponse.Builder out =
              ModelInferResponse.newBuilder()
                  .setModelName(model.name())
                  .setModelVersion(model.version())
                  .setId(request.getId());
          CallScorer scorer =
              call.track(
                  new CallScorer(
                      call.served(),
                      call.context(),
                      output -> addOutputs(request, model, output, out)));
          VectorSchemaRoot input;
          try {
            input = readInputs(request, model, call.allocator());
          } catch (RuntimeException e) {
            scorer.refused();
            throw e;
          }
          try (input) {
            scorer.score(input, NO_DICTIONARIES); // Checks the schema as for any batch.
          }
          return out.build();
        });
  }

  /** Request parameters as the model sees them: each value in its plain string form. */
  private static Map<String, String> parameters(Map<String, InferParameter> parameters) {
    Map<String, String> strings = new HashMap<>(parameters.size());
    parameters.forEach(
        (key, value) -> {
          String text =
              switch (value.getParameterChoiceCase()) {
                case BOOL_PARAM -> Boolean.toString(value.getBoolParam());
                case INT64_PARAM -> Long.toString(value.getInt64Param());
                case STRING_PARAM -> value.getStringParam();
                case DOUBLE_PARAM -> Double.toString(value.getDoubleParam());
                case UINT64_PARAM -> Long.toUnsignedString(value.getUint64Param());
                case PARAMETERCHOICE_NOT_SET -> "";
              };
          strings.put(key, text);
        });
    return strings;
  }

  /**
   * The request's tensors as one batch from {@code allocator}, columns in the model's declared
   * order (or the request's, for a model that declares no input schema). Ownership of the returned
   * root passes to the caller; on failure nothing stays allocated.
   *
   * @throws PredictException INVALID_ARGUMENT naming the input, RESOURCE_EXHAUSTED naming a limit
   */
  private VectorSchemaRoot readInputs(
      ModelInferRequest request, ModelService model, BufferAllocator allocator) {
    String modelName = ClientText.name(model.name());
    int rawCount = request.getRawInputContentsCount();
    if (rawCount > 0 && rawCount != request.getInputsCount()) {
      throw invalid(
          "the request has "
              + request.getInputsCount()
              + " inputs but "
              + rawCount
              + " raw_input_contents; send one per input, in the same order, or none");
    }
    Schema declared = model.inputSchema();
    TensorLayout layout = declared == null ? null : layout(model, "input", declared);
    Map<String, TensorReader.Data> inputs = new LinkedHashMap<>();
    Map<String, TensorLayout.Tensor> tensors = new LinkedHashMap<>();
    Map<String, OipDatatype> types = new HashMap<>();
    long rows = -1;
    String rowsFrom = null;
    int columns = 0;
    for (int i = 0; i < request.getInputsCount(); i++) {
      InferInputTensor input = request.getInputs(i);
      String name = input.getName();
      TensorReader.Data data =
          new TensorReader.Data(
              "input",
              name,
              input.getDatatype(),
              input.getShapeList(),
              input.getContents(),
              rawCount > 0 ? request.getRawInputContents(i) : null);
      String label = "input '" + ClientText.name(name) + "'";
      if (inputs.put(name, data) != null) {
        throw invalid("the request has two inputs named '" + ClientText.name(name) + "'");
      }
      OipDatatype type = OipDatatype.parse(input.getDatatype());
      TensorLayout.Tensor tensor = layout == null ? null : layout.tensor(name);
      if (layout != null && tensor == null) {
        throw invalid(
            "model '"
                + modelName
                + "' has no "
                + label
                + "; its inputs are "
                + ClientText.list(layout.names()));
      }
      if (type == null) {
        throw invalid(
            label
                + " has datatype '"
                + ClientText.name(input.getDatatype())
                + "'"
                + (tensor != null
                    ? "; model '" + modelName + "' expects " + tensor.datatypeName()
                    : "")
                + " (datatypes: BOOL, UINT8-64, INT8-64, FP16, FP32, FP64, BYTES)");
      }
      if (tensor != null && type != tensor.datatype()) {
        throw invalid(
            label
                + " has datatype "
                + type
                + " but model '"
                + modelName
                + "' expects "
                + tensor.datatypeName());
      }
      List<Long> shape = input.getShapeList();
      boolean shapeOk =
          tensor == null
              ? shape.size() == 1 || shape.size() == 2
              : shape.size() == (tensor.matrix() ? 2 : 1)
                  && (!tensor.matrix() || shape.get(1) == tensor.width());
      if (!shapeOk || shape.stream().anyMatch(d -> d < 0)) {
        throw invalid(
            label
                + " has shape "
                + shape
                + (tensor != null
                    ? " but model '" + modelName + "' expects " + tensor.shape(-1)
                    : "; shapes [N] and [N, K] are served")
                + " (-1: any number of rows)");
      }
      long width = shape.size() == 2 ? shape.get(1) : 1;
      columns += (int) Math.min(Integer.MAX_VALUE, width);
      if (width > state.limits.maxSchemaFields() || columns > state.limits.maxSchemaFields()) {
        throw new PredictException(
            Status.Code.RESOURCE_EXHAUSTED,
            "the request's inputs make more than "
                + state.limits.maxSchemaFields()
                + " columns (limit maxSchemaFields)");
      }
      long n = shape.get(0);
      if (rows >= 0 && n != rows) {
        throw invalid(
            label + " has " + n + " rows (shape " + shape + ") but " + rowsFrom + " has " + rows);
      }
      rows = n;
      rowsFrom = label;
      TensorReader.check(data, type, n, (int) width);
      if (n > state.limits.maxBatchRows()) {
        throw new PredictException(
            Status.Code.RESOURCE_EXHAUSTED,
            label
                + " has "
                + n
                + " rows, more than one batch may have (limit maxBatchRows="
                + state.limits.maxBatchRows()
                + ")");
      }
      types.put(name, type);
      tensors.put(
          name,
          tensor != null
              ? tensor
              : TensorLayout.columnsFor(name, type, (int) width, shape.size() == 2));
    }
    if (layout != null) {
      for (TensorLayout.Tensor tensor : layout.tensors()) {
        if (!inputs.containsKey(tensor.name())) {
          throw invalid(
              "model '"
                  + modelName
                  + "' needs input '"
                  + tensor.name()
                  + "' ("
                  + tensor.datatypeName()
                  + ", shape "
                  + tensor.shape(-1)
                  + "), which the request lacks");
        }
      }
    }
    List<TensorLayout.Tensor> order =
        layout != null ? layout.tensors() : new ArrayList<>(tensors.values());
    List<Field> fields = new ArrayList<>(columns);
    List<FieldVector> vectors = new ArrayList<>(columns);
    boolean ok = false;
    try {
      for (TensorLayout.Tensor tensor : order) {
        vectors.addAll(
            TensorReader.read(
                inputs.get(tensor.name()),
                types.get(tensor.name()),
                tensor.columns(),
                (int) Math.max(rows, 0),
                allocator));
        fields.addAll(tensor.columns());
      }
      int rowCount = (int) Math.max(rows, 0);
      // The declared schema object itself, so the schema check recognizes it and skips the work.
      VectorSchemaRoot root =
          declared != null
              ? new VectorSchemaRoot(declared, vectors, rowCount)
              : new VectorSchemaRoot(fields, vectors, rowCount);
      ok = true;
      return root;
    } finally {
      if (!ok) {
        vectors.forEach(FieldVector::close);
      }
    }
  }

  /**
   * Adds the model's output columns to the response as tensors: those the request names in {@code
   * outputs}, in that order, or else all of them; raw when the request sent raw inputs, typed
   * otherwise. The caller retains ownership of {@code output}; it is not retained.
   */
  private void addOutputs(
      ModelInferRequest request,
      ModelService model,
      VectorSchemaRoot output,
      ModelInferResponse.Builder response) {
    TensorLayout layout = layout(model, "output", output.getSchema());
    Map<String, List<FieldVector>> columnsOf = new HashMap<>();
    int column = 0;
    for (TensorLayout.Tensor tensor : layout.tensors()) {
      columnsOf.put(
          tensor.name(), output.getFieldVectors().subList(column, column + tensor.width()));
      column += tensor.width();
    }
    List<TensorLayout.Tensor> selected = new ArrayList<>();
    if (request.getOutputsCount() == 0) {
      selected.addAll(layout.tensors());
    } else {
      for (InferRequestedOutputTensor wanted : request.getOutputsList()) {
        TensorLayout.Tensor tensor = layout.tensor(wanted.getName());
        if (tensor == null) {
          throw invalid(
              "model '"
                  + ClientText.name(model.name())
                  + "' has no output '"
                  + ClientText.name(wanted.getName())
                  + "'; its outputs are "
                  + ClientText.list(layout.names()));
        }
        selected.add(tensor);
      }
    }
    boolean raw = request.getRawInputContentsCount() > 0;
    int rows = output.getRowCount();
    long size = 0;
    List<OipDatatype> types = new ArrayList<>(selected.size());
    for (TensorLayout.Tensor tensor : selected) {
      OipDatatype type = TensorWriter.check("output", tensor, columnsOf.get(tensor.name()));
      types.add(type);
      size += TensorWriter.sizeBound(type, columnsOf.get(tensor.name()), rows, raw);
      size +=
          TENSOR_OVERHEAD_BYTES
              + tensor.name().getBytes(StandardCharsets.UTF_8).length
              + 8L * tensor.shape(rows).size();
    }
    int limit = state.limits.maxUnaryResponseBytes();
    if (size > limit - ENVELOPE_BYTES) {
      throw new PredictException(
          Status.Code.RESOURCE_EXHAUSTED,
          "the response of model '"
              + ClientText.name(model.name())
              + "' may take up to "
              + size
              + " bytes, more than "
              + (limit - ENVELOPE_BYTES)
              + " (limit maxUnaryResponseBytes="
              + limit
              + "); ask for fewer rows or outputs");
    }
    for (int i = 0; i < selected.size(); i++) {
      TensorLayout.Tensor tensor = selected.get(i);
      List<FieldVector> columns = columnsOf.get(tensor.name());
      InferOutputTensor.Builder out =
          InferOutputTensor.newBuilder()
              .setName(tensor.name())
              .setDatatype(types.get(i).name())
              .addAllShape(tensor.shape(rows));
      if (raw) {
        response.addRawOutputContents(TensorWriter.raw(types.get(i), columns, rows));
      } else {
        out.setContents(TensorWriter.contents(types.get(i), columns, rows));
      }
      response.addOutputs(out);
    }
  }

  private static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
