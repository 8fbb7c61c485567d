/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.attack;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;

/** What every refusal of an attack must look like to the attacker. */
final class StatusAssertions {
  /**
   * The longest status message we accept: the server caps messages at 768 characters (plus a short
   * "(N characters)" note), well under the 8 KiB gRPC clients accept in a trailer.
   */
  static final int MAX_MESSAGE_CHARS = 800;

  private StatusAssertions() {}

  /**
   * Asserts {@code status} has {@code code} and a message that names the problem (contains every
   * fragment), is capped, and gives nothing of the server away (no stack trace, no class names).
   */
  static void assertRefused(Status status, Status.Code code, String... fragments) {
    assertThat(status).as("the call's status").isNotNull();
    String description = status.getDescription();
    assertThat(status.getCode()).as("status code of %s", status).isEqualTo(code);
    assertThat(description).as("message of %s", status).isNotNull();
    assertThat(description).hasSizeLessThanOrEqualTo(MAX_MESSAGE_CHARS).contains(fragments);
    assertThat(description)
        .as("the message gives away no internals")
        .doesNotContain(
            "\tat ", "Exception", "dev.predictgrpc.", "org.apache.", "io.grpc.", "io.netty.");
    assertThat(status.getCause()).as("a cause would only exist on this side").isNull();
  }
}
