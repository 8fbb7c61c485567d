/*
 * Licensed under the Apache License, Version 2.0.
 */
/** Serving ONNX models (exported from scikit-learn, XGBoost, PyTorch, ...) with ONNX Runtime. */
@NullMarked
package dev.predictgrpc.examples.onnx;

import org.jspecify.annotations.NullMarked;
