/*
 * Licensed under the Apache License, Version 2.0.
 */
/** Small types shared by the predict-grpc server and client. */
@NullMarked
package dev.predictgrpc.common;

import org.jspecify.annotations.NullMarked;
