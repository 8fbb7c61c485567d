/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.spark;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark job for {@code spark-submit}: {@code --target HOST:PORT[,HOST:PORT...] --model NAME
 * --input PARQUET --output PARQUET [--version V] [--batch-rows 65536]}. Reads the input Parquet
 * dataset, appends the model's result columns with {@link SparkScoring} and writes Parquet.
 */
public final class SparkScore {
  private SparkScore() {}

  /** Runs the job; exits with status 2 on bad usage. */
  public static void main(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i + 1 < args.length && args[i].startsWith("--"); i += 2) {
      options.put(args[i].substring(2), args[i + 1]);
    }
    for (String required : new String[] {"target", "model", "input", "output"}) {
      if (!options.containsKey(required) || args.length % 2 != 0) {
        System.err.println(
            "usage: SparkScore --target HOST:PORT[,HOST:PORT...] --model NAME --input PARQUET"
                + " --output PARQUET [--version V] [--batch-rows 65536]");
        System.exit(2);
      }
    }
    SparkSession spark = SparkSession.builder().appName("predict-grpc score").getOrCreate();
    try {
      SparkScoring.builder(options.get("target"), options.get("model"))
          .version(options.getOrDefault("version", ""))
          .batchRows(Integer.parseInt(options.getOrDefault("batch-rows", "65536")))
          .build()
          .score(spark.read().parquet(options.get("input")))
          .write()
          .parquet(options.get("output"));
    } finally {
      spark.stop();
      ExecutorClients.closeAll();
    }
  }
}
