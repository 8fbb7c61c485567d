/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The client side of one transport, as the benchmark drives it. Every method checks what comes back
 * (row counts, and a few values against the expected echo or row sums) and throws if it is wrong,
 * so a transport cannot win by dropping work.
 */
interface BenchClient extends AutoCloseable {
  /**
   * Streams a table of {@code rows} rows of the bench table through {@code model} ({@code echo} or
   * {@code score}) and reads every result. Returns the number of rows that came back.
   */
  long stream(String model, long rows) throws Exception;

  /**
   * One unary call: the first {@code rows} rows of 16 float32 features in, their float32 scores out
   * (checked). {@code rows} is one of {@link Bench#UNARY_ROWS}, which clients prepare requests for.
   */
  default void unary(int rows) throws Exception {
    throw new UnsupportedOperationException("no unary call on this transport");
  }

  /**
   * Starts one unary call of {@code rows} rows and returns at once; {@code done} receives null on
   * success or the failure, on a transport thread.
   */
  default void unaryAsync(int rows, Consumer<@Nullable Throwable> done) {
    throw new UnsupportedOperationException("no unary call on this transport");
  }

  @Override
  void close() throws Exception;
}
