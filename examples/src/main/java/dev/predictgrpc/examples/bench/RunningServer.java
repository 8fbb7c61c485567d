/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

/** A benchmark server listening on a loopback port. */
interface RunningServer extends AutoCloseable {
  int port();

  @Override
  void close() throws Exception;

  static RunningServer of(int port, AutoCloseable resource) {
    return new RunningServer() {
      @Override
      public int port() {
        return port;
      }

      @Override
      public void close() throws Exception {
        resource.close();
      }
    };
  }
}
