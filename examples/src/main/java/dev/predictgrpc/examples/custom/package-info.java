/*
 * Licensed under the Apache License, Version 2.0.
 */
/** The {@code custom} example; see the README beside it. */
@NullMarked
package dev.predictgrpc.examples.custom;

import org.jspecify.annotations.NullMarked;
