/*
 * Licensed under the Apache License, Version 2.0.
 */
/**
 * A toolkit for acting as a hostile client against a predict-grpc server over real TCP: hand-built
 * Arrow IPC bytes that declare more than they carry ({@link
 * dev.predictgrpc.examples.attack.IpcWriter}, {@link dev.predictgrpc.examples.attack.HostileIpc}),
 * gRPC calls driven message by message ({@link dev.predictgrpc.examples.attack.HostileStream},
 * {@link dev.predictgrpc.examples.attack.HostileUnary}), HTTP/2 frames below any gRPC library
 * ({@link dev.predictgrpc.examples.attack.RawHttp2Connection}), and the instruments that judge an
 * attack: a well-behaved client timing its calls and a watch on the server's memory and threads.
 * The hostile-client tests and the {@code attack} benchmark are built from it; see the README
 * beside it.
 */
@NullMarked
package dev.predictgrpc.examples.attack;

import org.jspecify.annotations.NullMarked;
