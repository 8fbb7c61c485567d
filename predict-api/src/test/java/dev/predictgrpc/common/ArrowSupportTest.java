/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.Test;

/** The allocator factory that checks the JVM first (the suite runs with the flags set). */
class ArrowSupportTest {
  @Test
  void rootAllocator_isAWorkingUnlimitedRoot() {
    try (BufferAllocator allocator = ArrowSupport.rootAllocator();
        ArrowBuf buffer = allocator.buffer(16)) {
      buffer.setLong(0, 42L);
      // nioBuffer() is what fails without the flags.
      assertThat(buffer.nioBuffer(0, 16).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0))
          .isEqualTo(42L);
      assertThat(allocator.getParentAllocator()).isNull();
      assertThat(allocator.getLimit()).isEqualTo(Long.MAX_VALUE);
    }
  }

  @Test
  void rootAllocatorWithALimit_enforcesIt() {
    try (BufferAllocator allocator = ArrowSupport.rootAllocator(1024)) {
      assertThatThrownBy(() -> allocator.buffer(4096))
          .isInstanceOf(org.apache.arrow.memory.OutOfMemoryException.class);
    }
  }

  @Test
  void missingFlagsMessage_namesTheFlagsForThisJdk() {
    String message = ArrowSupport.missingFlagsMessage();

    assertThat(message).contains(ArrowSupport.ADD_OPENS);
    if (Runtime.version().feature() >= 24) {
      assertThat(message).contains(ArrowSupport.NETTY_NO_UNSAFE);
    }
  }
}
