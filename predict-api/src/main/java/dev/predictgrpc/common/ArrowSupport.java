/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * Checks that this JVM lets Apache Arrow read and write IPC data, and explains the fix if not.
 *
 * <p>Arrow reaches into {@code java.nio} internals to view off-heap memory as {@code ByteBuffer}s,
 * which JDK 17+ forbids unless the JVM is started with {@value #ADD_OPENS}; on JDK 24+ Arrow's
 * Netty allocator also needs {@value #NETTY_NO_UNSAFE}. Without them Arrow fails deep inside its
 * IPC code; this check turns that into one message naming the flags. The server and client
 * builders run it once; {@link #rootAllocator()} runs it before Arrow's own classes load, so even
 * the first allocator of a program fails with that message. Thread-safe.
 *
 * @since 0.1
 */
public final class ArrowSupport {
  /** The flag every JDK 17+ needs. */
  public static final String ADD_OPENS = "--add-opens=java.base/java.nio=ALL-UNNAMED";

  /** The extra property JDK 24+ needs with Arrow's Netty allocator. */
  public static final String NETTY_NO_UNSAFE = "-Dio.netty.noUnsafe=false";

  private static volatile boolean verified;

  private ArrowSupport() {}

  /**
   * Returns normally if Arrow IPC works in this JVM.
   *
   * @throws IllegalStateException naming the missing JVM flags if it does not
   */
  public static void checkJvm() {
    if (verified) {
      return;
    }
    try (BufferAllocator allocator = new RootAllocator(64);
        ArrowBuf buffer = allocator.buffer(8)) {
      buffer.nioBuffer(0, 8); // The call that fails without --add-opens.
      verified = true;
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalStateException(missingFlagsMessage(), e);
    }
  }

  /**
   * Checks this JVM, then creates a root allocator with no limit: use it instead of {@code new
   * RootAllocator()}, which on JDK 24+ without the flags fails inside Arrow's static
   * initialisation (an {@code ExceptionInInitializerError}) before any library code could explain
   * the fix. Ownership of the returned allocator passes to the caller, who must close it.
   *
   * @throws IllegalStateException naming the missing JVM flags if Arrow cannot work here
   */
  public static BufferAllocator rootAllocator() {
    return rootAllocator(Long.MAX_VALUE);
  }

  /**
   * As {@link #rootAllocator()}, with a limit on the memory the allocator and its children may
   * hold. Ownership of the returned allocator passes to the caller, who must close it.
   *
   * @throws IllegalStateException naming the missing JVM flags if Arrow cannot work here
   */
  public static BufferAllocator rootAllocator(long limit) {
    checkJvm();
    return new RootAllocator(limit);
  }

  /** The advice printed when Arrow cannot work: which flags to add to the {@code java} command. */
  public static String missingFlagsMessage() {
    String flags =
        Runtime.version().feature() >= 24 ? ADD_OPENS + " " + NETTY_NO_UNSAFE : ADD_OPENS;
    return "Apache Arrow cannot access off-heap memory in this JVM (Java "
        + Runtime.version().feature()
        + "). Start java with: "
        + flags
        + " (or set JDK_JAVA_OPTIONS=\""
        + flags
        + "\"). See the README section 'JVM flags'.";
  }
}
