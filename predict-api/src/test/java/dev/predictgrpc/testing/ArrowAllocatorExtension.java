/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.testing;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that gives each test a fresh {@link RootAllocator} and fails the test if any
 * Arrow memory is still allocated when it ends.
 *
 * <pre>{@code
 * @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();
 * ... arrow.allocator() ...
 * }</pre>
 *
 * <p>Register it as an instance field (not static) so each test gets its own allocator. Tests
 * must close everything they allocate, servers and clients included, before returning.
 */
public final class ArrowAllocatorExtension implements BeforeEachCallback, AfterEachCallback {
  private final long limit;
  private RootAllocator allocator;

  /** An extension whose allocators have no limit. */
  public ArrowAllocatorExtension() {
    this(Long.MAX_VALUE);
  }

  /** An extension whose allocators refuse to allocate more than {@code limit} bytes. */
  public ArrowAllocatorExtension(long limit) {
    this.limit = limit;
  }

  /** The current test's allocator. */
  public BufferAllocator allocator() {
    if (allocator == null) {
      throw new IllegalStateException("no test is running");
    }
    return allocator;
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    allocator = new RootAllocator(limit);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    RootAllocator current = allocator;
    allocator = null;
    long leaked = current.getAllocatedMemory();
    String detail = leaked == 0 ? "" : current.toVerboseString();
    // close() itself throws IllegalStateException naming the leak if children are still open.
    current.close();
    if (leaked != 0) {
      throw new AssertionError(
          "Arrow memory leaked by " + context.getDisplayName() + ": " + leaked + " bytes\n" + detail);
    }
  }
}
