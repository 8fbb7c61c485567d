/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class UploadPoolSizingTest {
  @Test
  void defaultSettings_keepEveryArrayTheReplayBufferMayHold() {
    // 64 MiB of replay in 1 MiB chunks: 64 arrays in flight, plus a batch in the making.
    assertEquals(72, Upload.idleChunkArrays(StreamSettings.defaults()));
  }

  @Test
  void smallReplayBuffer_stillKeepsTheMinimum() {
    assertEquals(8 + 1, Upload.idleChunkArrays(new StreamSettings(1 << 20, 3, 1 << 20)));
    assertEquals(8, Upload.idleChunkArrays(new StreamSettings(1 << 20, 0, 1000)));
  }

  @Test
  void hugeReplayBufferOfSmallChunks_isCapped() {
    assertEquals(256, Upload.idleChunkArrays(new StreamSettings(64 << 10, 3, 1L << 30)));
  }
}
