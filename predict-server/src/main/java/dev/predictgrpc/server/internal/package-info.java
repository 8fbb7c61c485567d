/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * Internals of the predict-grpc server: the gRPC binding, per-call state, validation, status
 * mapping, the call guard against stalled clients and the server's bounded executor. Not API:
 * anything here may change in any release.
 */
@NullMarked
package dev.predictgrpc.server.internal;

import org.jspecify.annotations.NullMarked;
