/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.predictgrpc.common.PredictException;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

/** The client-side wording of statuses gRPC writes itself. */
class StatusesTest {
  @Test
  void grpcsOwnDeadlineText_becomesAnExplanation_keepingTheOriginalAsCause() {
    Status grpc =
        Status.DEADLINE_EXCEEDED.withDescription(
            "deadline exceeded after 0.199s. Name resolution delay 0.001 seconds."
                + " [closed=[], open=[[remote_addr=localhost/127.0.0.1:8980]]]");

    PredictException e = Statuses.toPredictException(grpc.asRuntimeException());

    assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(e.getMessage())
        .contains("deadline passed", "PredictOptions.withDeadline")
        .doesNotContain("remote_addr", "127.0.0.1", "Name resolution");
    assertThat(e.getCause().getMessage()).contains("remote_addr");
  }

  @Test
  void serverWrittenDeadlineStatus_passesUnchanged() {
    String server = "no request message within 10 s of the call's start (limit firstMessageTimeout=PT10S)";

    PredictException e =
        Statuses.toPredictException(
            Status.DEADLINE_EXCEEDED.withDescription(server).asRuntimeException());

    assertThat(e.getMessage()).isEqualTo(server);
  }

  @Test
  void messageOverTheSizeLimit_namesBothLimitsAndTheRemedy() {
    PredictException e =
        Statuses.toPredictException(
            Status.RESOURCE_EXHAUSTED
                .withDescription("gRPC message exceeds maximum size 4194304: 4621847")
                .asRuntimeException());

    assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(e.getMessage())
        .contains("4621847 bytes", "limit of 4194304", "maxInboundMessageBytes", "predictStream");
  }

  @Test
  void otherStatuses_passUnchanged() {
    PredictException e =
        Statuses.toPredictException(
            Status.RESOURCE_EXHAUSTED.withDescription("over maxClientMemoryBytes=1").asRuntimeException());

    assertThat(e.getMessage()).isEqualTo("over maxClientMemoryBytes=1");
  }
}
