/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The Spark example: scores a Spark {@code Dataset} against remote predict-grpc replicas, each
 * partition streaming its rows as Arrow batches; see the README beside it.
 */
@NullMarked
package dev.predictgrpc.examples.spark;

import org.jspecify.annotations.NullMarked;
