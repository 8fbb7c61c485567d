/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * Internals of the predict-grpc server: the gRPC binding, per-call state, validation and status
 * mapping. Not API: anything here may change in any release.
 */
@NullMarked
package dev.predictgrpc.server.internal;

import org.jspecify.annotations.NullMarked;
