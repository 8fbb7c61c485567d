/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link ChunkingChannel} cuts bytes into bounded chunks it never writes to again. */
class ChunkingChannelTest {
  private final List<ByteString> chunks = new ArrayList<>();

  /** A copy of each chunk taken when it was emitted, to detect later writes into it. */
  private final List<byte[]> snapshots = new ArrayList<>();

  private ChunkingChannel channel(int maxChunkBytes) {
    return new ChunkingChannel(
        maxChunkBytes,
        null,
        (chunk, release) -> {
          chunks.add(chunk);
          snapshots.add(chunk.toByteArray());
        });
  }

  @Test
  void writes_areCutIntoFullChunks_andFlushEmitsTheRest() {
    ChunkingChannel channel = channel(64);
    byte[] data = new byte[200];
    new Random(1).nextBytes(data);

    assertThat(channel.write(ByteBuffer.wrap(data))).isEqualTo(200);
    assertThat(chunks).extracting(ByteString::size).containsExactly(64, 64, 64);
    channel.flush();

    assertThat(chunks).extracting(ByteString::size).containsExactly(64, 64, 64, 8);
    assertThat(IpcBytes.concat(chunks).toByteArray()).isEqualTo(data);
    assertThat(channel.bytesEmitted()).isEqualTo(200);
  }

  @Test
  void flushWithNothingBuffered_emitsNothing() {
    ChunkingChannel channel = channel(64);
    channel.flush();
    channel.write(ByteBuffer.wrap(new byte[64]));
    channel.flush();

    assertThat(chunks).extracting(ByteString::size).containsExactly(64);
  }

  @Test
  void emittedChunks_neverChangeAfterwards() {
    // Small tails are copied so the big array can be reused; large ones are handed out. Either
    // way, later writes must not show through chunks the sink may still hold.
    Random random = new Random(3);
    ChunkingChannel channel = channel(1024);
    ByteString written = ByteString.EMPTY;
    for (int i = 0; i < 500; i++) {
      byte[] data = new byte[random.nextInt(random.nextBoolean() ? 50 : 3000)];
      random.nextBytes(data);
      channel.write(ByteBuffer.wrap(data));
      written = written.concat(ByteString.copyFrom(data));
      if (random.nextInt(3) == 0) {
        channel.flush();
      }
    }
    channel.flush();

    for (int i = 0; i < chunks.size(); i++) {
      assertThat(chunks.get(i).toByteArray()).as("chunk %s", i).isEqualTo(snapshots.get(i));
      assertThat(chunks.get(i).size()).isBetween(1, 1024);
    }
    assertThat(IpcBytes.concat(chunks)).isEqualTo(written);
    assertThat(channel.bytesEmitted()).isEqualTo(written.size());
  }

  @Test
  void close_marksTheChannelClosed() {
    ChunkingChannel channel = channel(64);
    assertThat(channel.isOpen()).isTrue();

    channel.close();

    assertThat(channel.isOpen()).isFalse();
  }
}
