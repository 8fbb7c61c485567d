/*
 * Licensed under the Apache License, Version 2.0.
 */
/** The {@code serve} example; see the README beside it. */
@NullMarked
package dev.predictgrpc.examples.serve;

import org.jspecify.annotations.NullMarked;
