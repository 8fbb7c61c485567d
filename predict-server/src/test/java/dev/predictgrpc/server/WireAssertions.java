/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Checks on what a client sees in a failed call's status. */
final class WireAssertions {
  private WireAssertions() {}

  /**
   * Asserts the status has {@code code}, a description containing every fragment (ignoring case),
   * and nothing that looks like a stack trace or a Java class name.
   */
  static void assertCleanError(Status status, Status.Code code, String... fragments) {
    assertThat(status.getCode()).as("status %s", status).isEqualTo(code);
    String description = status.getDescription();
    assertThat(description).as("description of %s", status).isNotBlank();
    for (String fragment : fragments) {
      assertThat(description).as("description of %s", status).containsIgnoringCase(fragment);
    }
    assertThat(description)
        .as("description of %s", status)
        .doesNotContain("Exception", "at dev.", "java.", "\tat ", "io.grpc.", "org.apache.");
    // What a client can read: the cause never crosses the wire.
    assertThat(status.getCause()).isNull();
  }

  /** Runs a blocking call that must fail, and returns its status. */
  static Status statusOf(ThrowingCallable call) {
    try {
      call.call();
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    } catch (Throwable t) {
      throw new AssertionError("expected a StatusRuntimeException", t);
    }
    throw new AssertionError("expected the call to fail");
  }
}
