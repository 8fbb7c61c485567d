/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The predict-grpc server: extend {@link dev.predictgrpc.server.ModelService} to serve a model, and
 * host it with {@link dev.predictgrpc.server.PredictServer} or mount {@link
 * dev.predictgrpc.server.PredictService} on a gRPC server of your own.
 */
@NullMarked
package dev.predictgrpc.server;

import org.jspecify.annotations.NullMarked;
