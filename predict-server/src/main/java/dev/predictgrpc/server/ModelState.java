/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.server;

/**
 * Where a hosted model version is in its life: loading, serving, or draining before it closes.
 *
 * @since 0.2
 */
public enum ModelState {
  /** Being started or warmed up; not yet visible to clients. */
  LOADING,
  /** Published: listed, and taking new calls. */
  SERVING,
  /** Removed or replaced: takes no new calls, finishes the calls in flight, then closes. */
  DRAINING
}
