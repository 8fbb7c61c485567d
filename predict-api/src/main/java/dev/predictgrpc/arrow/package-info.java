/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * The Arrow chunk codec: record batches to an Arrow IPC stream cut into bounded chunks, and chunks
 * cut anywhere back into batches. No gRPC here; the server and client both build on it.
 */
@NullMarked
package dev.predictgrpc.arrow;

import org.jspecify.annotations.NullMarked;
