/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.util.EnumSet;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class PredictExceptionTest {
  private static final Map<Status.Code, Predicate<PredictException>> ACCESSORS =
      Map.of(
          Status.Code.NOT_FOUND, PredictException::isNotFound,
          Status.Code.INVALID_ARGUMENT, PredictException::isInvalidArgument,
          Status.Code.RESOURCE_EXHAUSTED, PredictException::isResourceExhausted,
          Status.Code.UNAVAILABLE, PredictException::isUnavailable,
          Status.Code.DEADLINE_EXCEEDED, PredictException::isDeadlineExceeded,
          Status.Code.CANCELLED, PredictException::isCancelled,
          Status.Code.UNAUTHENTICATED, PredictException::isUnauthenticated,
          Status.Code.PERMISSION_DENIED, PredictException::isPermissionDenied,
          Status.Code.INTERNAL, PredictException::isInternal);

  @Test
  void eachAccessor_isTrueForExactlyItsOwnCode() {
    for (Status.Code code : Status.Code.values()) {
      PredictException e = new PredictException(code, "m");
      for (Map.Entry<Status.Code, Predicate<PredictException>> accessor : ACCESSORS.entrySet()) {
        assertThat(accessor.getValue().test(e))
            .as("%s accessor on %s", accessor.getKey(), code)
            .isEqualTo(accessor.getKey() == code);
      }
    }
  }

  @Test
  void codesWithoutAnAccessor_stillReadThroughCode() {
    EnumSet<Status.Code> rest = EnumSet.allOf(Status.Code.class);
    rest.removeAll(ACCESSORS.keySet());
    for (Status.Code code : rest) {
      PredictException e = new PredictException(code, "m");
      assertThat(e.code()).isEqualTo(code);
      assertThat(e.toStatus().getCode()).isEqualTo(code);
      assertThat(e.toStatus().getDescription()).isEqualTo("m");
    }
  }
}
