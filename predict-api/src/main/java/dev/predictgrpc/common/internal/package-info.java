/*
 * Licensed under the Apache License, Version 2.0.
 */

/**
 * Transport plumbing shared by the predict-grpc server and client: the zero-copy marshaller and
 * the method descriptor of {@code PredictStream} that uses it, and the mapping between Arrow
 * columns and Open Inference Protocol tensors ({@code TensorLayout}, {@code TensorReader}, {@code
 * TensorWriter}). Not a public API: it may change in any release.
 */
@NullMarked
package dev.predictgrpc.common.internal;

import org.jspecify.annotations.NullMarked;
