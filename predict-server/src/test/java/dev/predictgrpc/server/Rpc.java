/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.predictgrpc.api.v1.PredictResponse;
import dev.predictgrpc.api.v1.PredictStreamResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The two prediction RPCs, so one test can check the same rule on both. */
enum Rpc {
  UNARY {
    @Override
    Result call(InProcessPredict p, String model, ByteString input) {
      try {
        PredictResponse response = p.blocking().predict(InProcessPredict.request(model, "", input));
        return new Result(Status.OK, Batches.decode(p.allocator, response.getArrowIpc()));
      } catch (StatusRuntimeException e) {
        return new Result(e.getStatus(), null);
      }
    }
  },
  STREAM {
    @Override
    Result call(InProcessPredict p, String model, ByteString input) {
      Collector<PredictStreamResponse> call =
          p.stream(InProcessPredict.messages(model, Batches.split(input, 100)));
      Status status = call.awaitStatus();
      if (!status.isOk()) {
        return new Result(status, null);
      }
      List<ByteString> chunks = InProcessPredict.chunksAfterHeader(call.messages());
      return new Result(status, Batches.decode(p.allocator, chunks));
    }
  };

  /** Sends {@code input} to {@code model} and returns the status and, if OK, the output. */
  abstract Result call(InProcessPredict p, String model, ByteString input);

  record Result(Status status, Batches.@Nullable Decoded output) {
    Batches.Decoded ok() {
      assertThat(status.getCode()).as("status %s", status).isEqualTo(Status.Code.OK);
      return output;
    }
  }
}
