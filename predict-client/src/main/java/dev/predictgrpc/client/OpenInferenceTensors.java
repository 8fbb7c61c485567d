/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.common.internal.OipDatatype;
import dev.predictgrpc.common.internal.TensorLayout;
import dev.predictgrpc.common.internal.TensorReader;
import dev.predictgrpc.common.internal.TensorWriter;
import inference.OpenInferenceGrpc.ModelInferRequest;
import inference.OpenInferenceGrpc.ModelInferRequest.InferInputTensor;
import inference.OpenInferenceGrpc.ModelInferResponse;
import inference.OpenInferenceGrpc.ModelInferResponse.InferOutputTensor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * Arrow batches to and from the Open Inference Protocol's tensors, for JVM code that calls any OIP
 * server (Triton, KServe, MLServer, Seldon, or predict-grpc) with the stubs generated from {@code
 * open_inference_grpc.proto} ({@code inference.GRPCInferenceServiceGrpc}, in predict-api).
 *
 * <pre>{@code
 * GRPCInferenceServiceBlockingStub stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
 * ModelInferRequest request = OpenInferenceTensors.request("iris", batch, true).build();
 * try (VectorSchemaRoot outputs = OpenInferenceTensors.outputs(stub.modelInfer(request), allocator)) {
 *   ...
 * }
 * }</pre>
 *
 * <p>Columns map to tensors as on the server ({@code OpenInference} in predict-server): one column
 * is a tensor of shape {@code [N]}; columns named {@code <name>_0 .. <name>_K-1}, or tagged with
 * the field metadata {@code predictgrpc.tensor}, form one tensor of shape {@code [N, K]}. Stateless
 * and thread-safe.
 *
 * @since 0.2
 */
public final class OpenInferenceTensors {
  /** The most columns one output tensor may have: a server's declared K is not trusted blindly. */
  private static final int MAX_COLUMNS = 100_000;

  private OpenInferenceTensors() {}

  /**
   * A request for {@code model} carrying {@code batch}'s columns as input tensors: as {@code
   * raw_input_contents} (little-endian, row-major; what Triton's clients send, and the server then
   * answers raw too) or as typed {@code contents}. Add {@code outputs}, {@code parameters} or a
   * version to the returned builder as needed.
   *
   * <p>The caller retains ownership of {@code batch}; it is not retained after this method returns.
   *
   * @throws PredictException INVALID_ARGUMENT if a column has nulls or a type no datatype carries
   */
  public static ModelInferRequest.Builder request(
      String model, VectorSchemaRoot batch, boolean raw) {
    requireNonNull(model, "model");
    requireNonNull(batch, "batch");
    ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName(model);
    int rows = batch.getRowCount();
    int column = 0;
    for (TensorLayout.Tensor tensor : TensorLayout.of(batch.getSchema()).tensors()) {
      List<FieldVector> columns = batch.getFieldVectors().subList(column, column + tensor.width());
      column += tensor.width();
      OipDatatype type;
      try {
        type = TensorWriter.check("input", tensor, columns);
      } catch (PredictException e) {
        throw new PredictException(Status.Code.INVALID_ARGUMENT, e.getMessage());
      }
      InferInputTensor.Builder input =
          InferInputTensor.newBuilder()
              .setName(tensor.name())
              .setDatatype(type.name())
              .addAllShape(tensor.shape(rows));
      if (raw) {
        request.addRawInputContents(TensorWriter.raw(type, columns, rows));
      } else {
        input.setContents(TensorWriter.contents(type, columns, rows));
      }
      request.addInputs(input);
    }
    return request;
  }

  /**
   * The response's output tensors as one batch from {@code allocator}, typed or raw: a tensor
   * {@code [N]} becomes a column named after it, {@code [N, K]} becomes K columns {@code <name>_0
   * .. <name>_K-1} tagged with the tensor's name. BYTES become Utf8 columns.
   *
   * <p>Ownership of the returned root passes to the caller, who must close it.
   *
   * @throws PredictException INVALID_ARGUMENT if the response is malformed (contents that do not
   *     match a shape, outputs of different row counts, an unknown datatype)
   */
  public static VectorSchemaRoot outputs(ModelInferResponse response, BufferAllocator allocator) {
    requireNonNull(response, "response");
    requireNonNull(allocator, "allocator");
    boolean raw = response.getRawOutputContentsCount() > 0;
    if (raw && response.getRawOutputContentsCount() != response.getOutputsCount()) {
      throw invalid("the response has raw contents for some outputs but not all");
    }
    List<Field> fields = new ArrayList<>();
    List<FieldVector> vectors = new ArrayList<>();
    long rows = -1;
    boolean ok = false;
    try {
      for (int i = 0; i < response.getOutputsCount(); i++) {
        InferOutputTensor output = response.getOutputs(i);
        OipDatatype type = OipDatatype.parse(output.getDatatype());
        List<Long> shape = output.getShapeList();
        if (type == null
            || shape.isEmpty()
            || shape.size() > 2
            || shape.get(0) < 0
            || (shape.size() == 2 && shape.get(1) < 0)) {
          throw invalid(
              "output '"
                  + output.getName()
                  + "' has datatype "
                  + output.getDatatype()
                  + " and shape "
                  + shape
                  + "; supported: the OIP datatypes, shapes [N], [N, K]");
        }
        if (rows >= 0 && shape.get(0) != rows) {
          throw invalid(
              "output '" + output.getName() + "' has " + shape.get(0) + " rows, not " + rows);
        }
        rows = shape.get(0);
        TensorReader.Data data =
            new TensorReader.Data(
                "output",
                output.getName(),
                output.getDatatype(),
                shape,
                output.getContents(),
                raw ? response.getRawOutputContents(i) : null);
        int width = shape.size() == 2 ? Math.toIntExact(shape.get(1)) : 1;
        TensorReader.check(data, type, rows, width);
        if (width > MAX_COLUMNS) {
          throw invalid(
              "output '"
                  + output.getName()
                  + "' has "
                  + width
                  + " columns, more than "
                  + MAX_COLUMNS);
        }
        List<Field> columns =
            TensorLayout.columnsFor(output.getName(), type, width, shape.size() == 2).columns();
        vectors.addAll(TensorReader.read(data, type, columns, Math.toIntExact(rows), allocator));
        fields.addAll(columns);
      }
      VectorSchemaRoot root = new VectorSchemaRoot(fields, vectors, (int) Math.max(rows, 0));
      ok = true;
      return root;
    } finally {
      if (!ok) {
        vectors.forEach(FieldVector::close);
      }
    }
  }

  private static PredictException invalid(String message) {
    return new PredictException(Status.Code.INVALID_ARGUMENT, message);
  }
}
