/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import dev.predictgrpc.common.internal.TensorLayout;

/**
 * How models appear over the KServe Open Inference Protocol ({@code
 * inference.GRPCInferenceService}, enabled with {@link
 * PredictServer.Builder#openInferenceProtocol(boolean)} or mounted from {@link
 * PredictService#openInferenceService()}).
 *
 * <p>A model's columns become tensors: one column is a tensor of shape {@code [-1]}; K adjacent
 * columns of one type are one tensor of shape {@code [-1, K]} (element {@code r * K + c} is column
 * {@code c} of row {@code r}) when each carries the field metadata {@link #TENSOR_METADATA_KEY}
 * with the tensor's name, or, without it, when they are named {@code <name>_0 .. <name>_K-1}, as
 * the ONNX adapter names an {@code [N, K]} tensor's columns. Datatypes: BOOL (Bool), INT8-64 and
 * UINT8-64 (Int), FP16, FP32, FP64 (FloatingPoint), BYTES (Utf8 or Binary). Columns of other Arrow
 * types, and nulls, cannot be carried. A model two of whose tensors come out with one name (a
 * tagged group split by a change of type, or a column named like a group) is refused with
 * FAILED_PRECONDITION naming the model and the tensor.
 *
 * <pre>{@code
 * Field column = new Field("sepal_length",
 *     new FieldType(false, float32, null, Map.of(OpenInference.TENSOR_METADATA_KEY, "features")),
 *     null);
 * }</pre>
 *
 * <p>Constants only; thread-safe.
 *
 * @since 0.2
 */
public final class OpenInference {
  /**
   * Arrow field metadata key naming the {@code [N, K]} tensor a column belongs to, e.g. {@code
   * "features"} on each of a model's four feature columns.
   */
  public static final String TENSOR_METADATA_KEY = TensorLayout.TENSOR_KEY;

  /** The name of the gRPC service, for health checks and routing. */
  public static final String SERVICE_NAME = inference.GRPCInferenceServiceGrpc.SERVICE_NAME;

  private OpenInference() {}
}
