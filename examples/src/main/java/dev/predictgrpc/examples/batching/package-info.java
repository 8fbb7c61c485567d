/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The {@code bench-batching} command: dynamic batching on and off, for a one-slot model and the
 * bundled ONNX iris model; see the README beside it.
 */
@NullMarked
package dev.predictgrpc.examples.batching;

import org.jspecify.annotations.NullMarked;
