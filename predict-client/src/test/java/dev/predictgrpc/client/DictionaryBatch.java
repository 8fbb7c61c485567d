/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.client;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryEncoder;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;

/** A batch with one dictionary-encoded utf8 column "color", and its dictionary. */
final class DictionaryBatch implements AutoCloseable {
  final VectorSchemaRoot root;
  final DictionaryProvider.MapDictionaryProvider provider;
  private final VarCharVector dictionaryVector;

  private DictionaryBatch(
      VectorSchemaRoot root, DictionaryProvider.MapDictionaryProvider provider, VarCharVector dv) {
    this.root = root;
    this.provider = provider;
    this.dictionaryVector = dv;
  }

  static DictionaryBatch create(BufferAllocator allocator) {
    VarCharVector dictionaryVector = new VarCharVector("colors", allocator);
    dictionaryVector.allocateNew();
    dictionaryVector.setSafe(0, "red".getBytes(StandardCharsets.UTF_8));
    dictionaryVector.setSafe(1, "green".getBytes(StandardCharsets.UTF_8));
    dictionaryVector.setValueCount(2);
    Dictionary dictionary =
        new Dictionary(dictionaryVector, new DictionaryEncoding(1L, false, new ArrowType.Int(32, true)));
    DictionaryProvider.MapDictionaryProvider provider = new DictionaryProvider.MapDictionaryProvider(dictionary);
    try (VarCharVector plain = new VarCharVector("color", allocator)) {
      plain.allocateNew();
      plain.setSafe(0, "red".getBytes(StandardCharsets.UTF_8));
      plain.setNull(1);
      plain.setSafe(2, "green".getBytes(StandardCharsets.UTF_8));
      plain.setSafe(3, "red".getBytes(StandardCharsets.UTF_8));
      plain.setValueCount(4);
      FieldVector encoded = (FieldVector) DictionaryEncoder.encode(plain, dictionary);
      return new DictionaryBatch(new VectorSchemaRoot(List.of(encoded)), provider, dictionaryVector);
    }
  }

  /** Decodes the "color" column of a result batch with the given dictionaries. */
  List<String> decode(VectorSchemaRoot batch, DictionaryProvider dictionaries) {
    FieldVector encoded = batch.getVector("color");
    long id = encoded.getField().getDictionary().getId();
    try (ValueVector decoded = DictionaryEncoder.decode(encoded, dictionaries.lookup(id))) {
      List<String> values = new ArrayList<>();
      for (int i = 0; i < decoded.getValueCount(); i++) {
        Object v = decoded.getObject(i);
        values.add(v == null ? null : v.toString());
      }
      return values;
    }
  }

  /** Streams this batch twice through {@code client}'s echo model and checks both results. */
  void assertEchoedTwice(PredictClient client) {
    try (PredictCall call = client.openStream(ModelRef.of("echo"))) {
      call.write(root, provider);
      call.write(root, provider);
      call.complete();
      PredictionStream results = call.results();
      for (int i = 0; i < 2; i++) {
        if (!results.next()) {
          throw new AssertionError("result " + i + " is missing");
        }
        List<String> decoded = decode(results.root(), results.dictionaries());
        if (!decoded.equals(java.util.Arrays.asList("red", null, "green", "red"))) {
          throw new AssertionError("result " + i + " decodes to " + decoded);
        }
      }
      if (results.next()) {
        throw new AssertionError("more results than batches");
      }
    }
  }

  @Override
  public void close() {
    root.close();
    dictionaryVector.close();
  }
}
