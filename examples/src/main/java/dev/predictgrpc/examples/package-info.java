/*
 * Licensed under the Apache License, Version 2.0.
 */
/** The examples' entry point and the helpers the commands share. */
@NullMarked
package dev.predictgrpc.examples;

import org.jspecify.annotations.NullMarked;
