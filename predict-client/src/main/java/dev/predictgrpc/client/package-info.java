/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The predict-grpc client: {@link dev.predictgrpc.client.PredictClient} scores Arrow batches on a
 * remote model, one request at a time or as a stream of any size with backpressure.
 */
@NullMarked
package dev.predictgrpc.client;

import org.jspecify.annotations.NullMarked;
