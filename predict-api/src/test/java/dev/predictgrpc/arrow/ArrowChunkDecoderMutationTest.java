/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.arrow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.google.protobuf.ByteString;
import dev.predictgrpc.testing.ArrowAllocatorExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.util.ValueVectorUtility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Seeded random damage to valid streams: the decoder must yield valid batches or throw {@link
 * ArrowChunkException}, never another exception, never hang, and never leak.
 */
class ArrowChunkDecoderMutationTest {
  @RegisterExtension final ArrowAllocatorExtension arrow = new ArrowAllocatorExtension();

  private static final long SEED = 0x5EED_2026L;
  private static final int ITERATIONS = 300;

  /** A per-call limit like the server's, so declared sizes cannot exhaust the test JVM. */
  private static final long CALL_MEMORY_LIMIT = 16L << 20;

  private int clean;
  private int rejected;

  @Test
  void mutatedStreams_yieldValidBatchesOrArrowChunkException() {
    List<ByteString> bases = List.of(allTypesStream(), dictionaryStream());
    Random random = new Random(SEED);

    assertTimeoutPreemptively(
        Duration.ofSeconds(60),
        () -> {
          for (int i = 0; i < ITERATIONS; i++) {
            ByteString base = bases.get(i % bases.size());
            String[] how = new String[1];
            ByteString mutated = mutate(base, random, how);
            List<ByteString> chunks =
                IpcBytes.cutRandomly(mutated, random, 1 + random.nextInt(400));
            decodeOne(chunks, "iteration " + i + " (" + how[0] + ")");
          }
        });

    // Both outcomes occur, or the mutations are not exercising anything.
    assertThat(clean).isPositive();
    assertThat(rejected).isGreaterThan(ITERATIONS / 2);
  }

  private void decodeOne(List<ByteString> chunks, String what) {
    // Closing the child allocator fails if the decoder left anything allocated.
    try (BufferAllocator call = arrow.allocator().newChildAllocator(what, 0, CALL_MEMORY_LIMIT);
        ArrowChunkDecoder decoder =
            ArrowChunkDecoder.builder(call).maxMessageBytes(4L << 20).build()) {
      try {
        for (ByteString chunk : chunks) {
          decoder.append(chunk);
          while (decoder.nextBatch()) {
            VectorSchemaRoot root = decoder.root();
            ValueVectorUtility.validate(root);
            readEveryValue(root);
          }
        }
        decoder.finish();
        clean++;
      } catch (ArrowChunkException e) {
        assertThat(e.getMessage()).isNotBlank();
        rejected++;
      } catch (RuntimeException | Error e) {
        fail(what + " threw " + e, e);
      }
    }
  }

  /** Reads every value, as a model would; validated batches must be readable. */
  private static void readEveryValue(VectorSchemaRoot root) {
    for (FieldVector vector : root.getFieldVectors()) {
      for (int r = 0; r < vector.getValueCount(); r++) {
        vector.getObject(r);
      }
    }
  }

  /** Damages {@code stream} in one of several ways; {@code how[0]} names the way. */
  private static ByteString mutate(ByteString stream, Random random, String[] how) {
    int size = stream.size();
    switch (random.nextInt(7)) {
      case 0 -> {
        how[0] = "flip bytes anywhere";
        byte[] bytes = stream.toByteArray();
        for (int n = 1 + random.nextInt(8); n > 0; n--) {
          bytes[random.nextInt(size)] = (byte) random.nextInt();
        }
        return ByteString.copyFrom(bytes);
      }
      case 1, 2 -> {
        // Most bytes are bodies; aim at prefixes and metadata, where parsing happens.
        how[0] = "flip bytes in a message header";
        List<ByteString> messages = new ArrayList<>(IpcBytes.messages(stream));
        int m = random.nextInt(messages.size());
        byte[] message = messages.get(m).toByteArray();
        int headerEnd = Math.min(message.length, 8 + IpcBytes.metadata(messages.get(m)).length);
        for (int n = 1 + random.nextInt(4); n > 0; n--) {
          message[random.nextInt(headerEnd)] ^= (byte) (1 << random.nextInt(8));
        }
        messages.set(m, ByteString.copyFrom(message));
        return IpcBytes.concat(messages);
      }
      case 3 -> {
        how[0] = "truncate";
        return stream.substring(0, random.nextInt(size));
      }
      case 4 -> {
        how[0] = "duplicate a range";
        int from = random.nextInt(size);
        int to = from + random.nextInt(size - from);
        int at = random.nextInt(size);
        return stream
            .substring(0, at)
            .concat(stream.substring(from, to))
            .concat(stream.substring(at));
      }
      case 5 -> {
        how[0] = "delete a range";
        int from = random.nextInt(size);
        int to = from + random.nextInt(Math.min(size - from, 200) + 1);
        return stream.substring(0, from).concat(stream.substring(to));
      }
      default -> {
        how[0] = "repeat or drop whole messages";
        List<ByteString> messages = new ArrayList<>(IpcBytes.messages(stream));
        int m = random.nextInt(messages.size());
        if (random.nextBoolean()) {
          messages.add(random.nextInt(messages.size() + 1), messages.get(m));
        } else {
          messages.remove(m);
        }
        return IpcBytes.concat(messages);
      }
    }
  }

  private ByteString allTypesStream() {
    List<ByteString> chunks = new ArrayList<>();
    try (VectorSchemaRoot root =
        VectorSchemaRoot.create(TestData.allTypesSchema(), arrow.allocator())) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(root.getSchema(), null, 1 << 20, chunks::add);
      int[] rows = {20, 0, 7};
      for (int i = 0; i < rows.length; i++) {
        TestData.fill(root, i, rows[i]);
        encoder.writeBatch(root);
      }
      encoder.end();
    }
    return IpcBytes.concat(chunks);
  }

  private ByteString dictionaryStream() {
    List<ByteString> chunks = new ArrayList<>();
    Dictionary dictionary = TestData.dictionary(arrow.allocator());
    try (ValueVector unused = dictionary.getVector();
        VectorSchemaRoot first = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 1, 12);
        VectorSchemaRoot second = TestData.dictionaryEncoded(arrow.allocator(), dictionary, 2, 5)) {
      ArrowChunkEncoder encoder =
          ArrowChunkEncoder.create(
              first.getSchema(), TestData.provider(dictionary), 1 << 20, chunks::add);
      encoder.writeBatch(first);
      encoder.writeBatch(second);
      encoder.end();
    }
    return IpcBytes.concat(chunks);
  }
}
