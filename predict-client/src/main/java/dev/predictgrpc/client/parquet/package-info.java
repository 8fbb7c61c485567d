/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * Parquet in and out for the predict-grpc client: {@link dev.predictgrpc.client.parquet.ParquetFiles}
 * streams a Parquet file (or a directory of them) through a model and writes the results as
 * Parquet, one record batch at a time.
 *
 * <p>Needs {@code org.apache.arrow:arrow-dataset} on the class path, an optional dependency of
 * predict-client (a jar of native Arrow C++ code for Linux, macOS and Windows): add it to use this
 * package.
 */
@NullMarked
package dev.predictgrpc.client.parquet;

import org.jspecify.annotations.NullMarked;
