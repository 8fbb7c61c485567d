/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.jspecify.annotations.Nullable;

/**
 * The tables of the rate-limited link section: a few distinct batches sent round and round, so the
 * benchmark measures moving data, not making it.
 *
 * <ul>
 *   <li>{@code realistic}: order events as a feature pipeline sees them: sequential int64 ids,
 *       customer and product ids drawn with a skew, millisecond timestamps, three low-cardinality
 *       string columns dictionary-encoded (country, device, category), prices from a catalogue with
 *       two decimals, small quantities, a handful of discount rates, one-decimal ratings and
 *       latencies. 60 bytes a row.
 *   <li>{@code random}: the streaming section's 16 random float32 columns, the worst case for
 *       compression. 64 bytes a row.
 * </ul>
 *
 * <p>Owns its batches and dictionaries; {@link #close()} frees them. Not thread-safe.
 */
final class LinkTable implements AutoCloseable {
  /** Distinct batches per table; enough that a codec cannot profit from seeing one batch again. */
  private static final int DISTINCT_BATCHES = 4;

  private static final String[] COUNTRIES = {
    "US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "ES", "IT", "NL", "SE", "PL", "MX", "AU", "KR",
    "TR", "AR", "ZA", "CH", "BE", "AT", "NO", "DK", "FI", "IE", "PT", "CZ", "RO", "NZ"
  };
  private static final String[] DEVICES = {"ios", "android", "web", "desktop"};
  private static final int CATEGORIES = 40;
  private static final int PRODUCTS = 5_000;
  private static final int CUSTOMERS = 200_000;
  private static final float[] DISCOUNTS = {0f, 0f, 0f, 0f, 0f, 0.05f, 0.1f, 0.15f, 0.2f};

  final String name;
  final List<VectorSchemaRoot> batches;
  final @Nullable DictionaryProvider dictionaries;
  private final List<FieldVector> dictionaryVectors;

  private LinkTable(
      String name,
      List<VectorSchemaRoot> batches,
      @Nullable DictionaryProvider dictionaries,
      List<FieldVector> dictionaryVectors) {
    this.name = name;
    this.batches = batches;
    this.dictionaries = dictionaries;
    this.dictionaryVectors = dictionaryVectors;
  }

  static LinkTable create(String name, BufferAllocator allocator, int batchRows) {
    switch (name) {
      case "realistic":
        return realistic(allocator, batchRows);
      case "random":
        return random(allocator, batchRows);
      default:
        throw new IllegalArgumentException("table: " + name + " (expected: realistic, random)");
    }
  }

  /** The bytes of one batch's buffers as they are in memory: the table size this moves. */
  static long bodyBytes(VectorSchemaRoot root) {
    long bytes = 0;
    for (FieldVector vector : root.getFieldVectors()) {
      bytes += vector.getBufferSize();
    }
    return bytes;
  }

  private static LinkTable random(BufferAllocator allocator, int batchRows) {
    List<VectorSchemaRoot> batches = new ArrayList<>();
    for (int b = 0; b < DISTINCT_BATCHES; b++) {
      List<FieldVector> vectors = new ArrayList<>();
      for (int c = 0; c < BenchTable.COLUMNS; c++) {
        SplittableRandom random = new SplittableRandom(1_000L * b + c);
        Float4Vector v = new Float4Vector("f" + c, allocator);
        v.allocateNew(batchRows);
        for (int r = 0; r < batchRows; r++) {
          v.set(r, (float) random.nextDouble());
        }
        vectors.add(v);
      }
      batches.add(finish(vectors, batchRows));
    }
    return new LinkTable("random", batches, null, List.of());
  }

  private static LinkTable realistic(BufferAllocator allocator, int batchRows) {
    List<FieldVector> dictionaryVectors = new ArrayList<>();
    DictionaryProvider.MapDictionaryProvider provider =
        new DictionaryProvider.MapDictionaryProvider();
    Field country = dictionary(allocator, "country", 1, COUNTRIES, provider, dictionaryVectors);
    Field device = dictionary(allocator, "device", 2, DEVICES, provider, dictionaryVectors);
    String[] categoryNames = new String[CATEGORIES];
    for (int i = 0; i < CATEGORIES; i++) {
      categoryNames[i] = "category-" + i;
    }
    Field category =
        dictionary(allocator, "category", 3, categoryNames, provider, dictionaryVectors);
    // A catalogue: each product has a category and a price with two decimals.
    SplittableRandom catalogue = new SplittableRandom(11);
    double[] price = new double[PRODUCTS];
    int[] productCategory = new int[PRODUCTS];
    for (int p = 0; p < PRODUCTS; p++) {
      price[p] = Math.round(Math.exp(1 + catalogue.nextDouble() * 6) * 100) / 100.0;
      productCategory[p] = skewed(catalogue, CATEGORIES);
    }
    List<VectorSchemaRoot> batches = new ArrayList<>();
    long orderId = 1_000_000_000L;
    long timestamp = 1_767_225_600_000L; // 2026-01-01T00:00Z
    for (int b = 0; b < DISTINCT_BATCHES; b++) {
      SplittableRandom random = new SplittableRandom(100 + b);
      BigIntVector ids = new BigIntVector("order_id", allocator);
      BigIntVector customers = new BigIntVector("customer_id", allocator);
      BigIntVector times = new BigIntVector("ts_ms", allocator);
      IntVector countries = new IntVector(country.getName(), country.getFieldType(), allocator);
      IntVector devices = new IntVector(device.getName(), device.getFieldType(), allocator);
      IntVector categories = new IntVector(category.getName(), category.getFieldType(), allocator);
      IntVector products = new IntVector("product_id", allocator);
      Float8Vector prices = new Float8Vector("unit_price", allocator);
      IntVector quantities = new IntVector("quantity", allocator);
      Float4Vector discounts = new Float4Vector("discount", allocator);
      Float4Vector ratings = new Float4Vector("rating", allocator);
      Float4Vector latencies = new Float4Vector("latency_ms", allocator);
      List<FieldVector> vectors =
          List.of(
              ids,
              customers,
              times,
              countries,
              devices,
              categories,
              products,
              prices,
              quantities,
              discounts,
              ratings,
              latencies);
      for (FieldVector v : vectors) {
        v.setInitialCapacity(batchRows);
        v.allocateNew();
      }
      for (int r = 0; r < batchRows; r++) {
        int product = skewed(random, PRODUCTS);
        ids.set(r, orderId++);
        customers.set(r, skewed(random, CUSTOMERS));
        timestamp += random.nextInt(40);
        times.set(r, timestamp);
        countries.set(r, skewed(random, COUNTRIES.length));
        devices.set(r, skewed(random, DEVICES.length));
        categories.set(r, productCategory[product]);
        products.set(r, product);
        prices.set(r, price[product]);
        quantities.set(r, 1 + skewed(random, 5));
        discounts.set(r, DISCOUNTS[random.nextInt(DISCOUNTS.length)]);
        ratings.set(r, (30 + random.nextInt(21)) / 10f);
        latencies.set(r, Math.round(Math.exp(3 + random.nextGaussian() * 0.7) * 10) / 10f);
      }
      batches.add(finish(vectors, batchRows));
    }
    return new LinkTable("realistic", batches, provider, dictionaryVectors);
  }

  /** An index in [0, n) where small values are much more likely (squared uniform). */
  private static int skewed(SplittableRandom random, int n) {
    double u = random.nextDouble();
    return (int) (u * u * n);
  }

  private static Field dictionary(
      BufferAllocator allocator,
      String name,
      long id,
      String[] values,
      DictionaryProvider.MapDictionaryProvider provider,
      List<FieldVector> owned) {
    VarCharVector vector = new VarCharVector(name + "-values", allocator);
    owned.add(vector);
    vector.allocateNew();
    for (int i = 0; i < values.length; i++) {
      vector.setSafe(i, values[i].getBytes(StandardCharsets.UTF_8));
    }
    vector.setValueCount(values.length);
    DictionaryEncoding encoding = new DictionaryEncoding(id, false, new ArrowType.Int(32, true));
    provider.put(new Dictionary(vector, encoding));
    return new Field(name, new FieldType(false, new ArrowType.Int(32, true), encoding), null);
  }

  private static VectorSchemaRoot finish(List<FieldVector> vectors, int rows) {
    for (FieldVector v : vectors) {
      v.setValueCount(rows);
    }
    VectorSchemaRoot root = new VectorSchemaRoot(vectors);
    root.setRowCount(rows);
    return root;
  }

  /** One float64 per row: the sum of the row's floating-point columns (the link model's work). */
  static Float8Vector score(VectorSchemaRoot input, BufferAllocator allocator) {
    int rows = input.getRowCount();
    double[] sums = new double[rows];
    for (FieldVector column : input.getFieldVectors()) {
      if (column instanceof Float4Vector) {
        Float4Vector f = (Float4Vector) column;
        for (int r = 0; r < rows; r++) {
          sums[r] += f.get(r);
        }
      } else if (column instanceof Float8Vector) {
        Float8Vector f = (Float8Vector) column;
        for (int r = 0; r < rows; r++) {
          sums[r] += f.get(r);
        }
      }
    }
    Float8Vector score = new Float8Vector(SCORE, allocator);
    score.allocateNew(rows);
    for (int r = 0; r < rows; r++) {
      score.set(r, sums[r]);
    }
    score.setValueCount(rows);
    return score;
  }

  static final Field SCORE =
      new Field(
          "score",
          FieldType.notNullable(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE)),
          null);

  @Override
  public void close() {
    batches.forEach(VectorSchemaRoot::close);
    dictionaryVectors.forEach(FieldVector::close);
  }
}
