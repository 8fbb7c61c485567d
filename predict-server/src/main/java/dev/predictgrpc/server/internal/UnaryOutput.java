/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server.internal;

import com.google.protobuf.ByteString;
import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects the output chunks of one unary {@code Predict} call, refusing to grow past the response
 * size limit: a model whose output outgrows what a default client accepts (an echo of many small
 * batches, say) fails fast with RESOURCE_EXHAUSTED instead of building a reply no one can read.
 * Not thread-safe; one per call.
 */
final class UnaryOutput {
  /** Room for the response's other fields (the model's name and version) beside the Arrow bytes. */
  private static final int ENVELOPE_BYTES = 1024;

  private final String model;
  private final int maxResponseBytes;
  private final List<ByteString> chunks = new ArrayList<>();
  private long size;

  UnaryOutput(String model, int maxResponseBytes) {
    this.model = model;
    this.maxResponseBytes = maxResponseBytes;
  }

  void add(ByteString chunk) {
    size += chunk.size();
    if (size > maxResponseBytes - ENVELOPE_BYTES) {
      throw new PredictException(
          Status.Code.RESOURCE_EXHAUSTED,
          "the response of model '"
              + model
              + "' would exceed "
              + (maxResponseBytes - ENVELOPE_BYTES)
              + " bytes of Arrow IPC (limit maxUnaryResponseBytes="
              + maxResponseBytes
              + "); use PredictStream for outputs this large");
    }
    chunks.add(chunk);
  }

  /** The output as one ByteString: a balanced rope over the chunks, so nothing is copied. */
  ByteString bytes() {
    return ByteString.copyFrom(chunks);
  }
}
