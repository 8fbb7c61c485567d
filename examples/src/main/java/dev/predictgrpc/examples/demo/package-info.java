/*
 * Licensed under the Apache License, Version 2.0.
 */
/** The {@code demo} example; see the README beside it. */
@NullMarked
package dev.predictgrpc.examples.demo;

import org.jspecify.annotations.NullMarked;
