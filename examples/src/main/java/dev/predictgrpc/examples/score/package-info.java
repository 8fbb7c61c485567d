/*
 * Licensed under the Apache License, Version 2.0.
 */
/** The {@code score} example; see the README beside it. */
@NullMarked
package dev.predictgrpc.examples.score;

import org.jspecify.annotations.NullMarked;
