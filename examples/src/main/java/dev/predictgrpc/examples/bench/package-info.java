/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The {@code bench} example: predict-grpc side by side with Arrow Flight, a bare gRPC stream and
 * REST/JSON, each server in its own JVM on loopback; see the README beside it.
 */
@NullMarked
package dev.predictgrpc.examples.bench;

import org.jspecify.annotations.NullMarked;
