/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The README's first command, with a smaller streamed table. */
class DemoTest {
  @Test
  void demo_scoresIrisPerfectly_andStreamsTheSyntheticTable() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int status =
        Demo.run(new String[] {"--rows", "300000"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(status).isZero();
    assertThat(out).contains("accuracy: 150/150 = 100.0%");
    assertThat(out).contains("done: 300,000 rows");
    assertThat(out).containsPattern("agreement with the generating class 9\\d\\.\\d%");
  }
}
