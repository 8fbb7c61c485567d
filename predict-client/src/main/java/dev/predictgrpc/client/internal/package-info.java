/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * Internals of the predict-grpc client: the streaming call state, channel configuration and status
 * conversion. Not API: anything here may change in any release.
 */
@NullMarked
package dev.predictgrpc.client.internal;

import org.jspecify.annotations.NullMarked;
