/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * REST/JSON the way a Java user would write it with nothing but the JDK and Jackson: a {@code
 * com.sun.net.httpserver.HttpServer} with a thread pool, {@code java.net.http.HttpClient} on
 * HTTP/1.1, and one POST per batch of {@code {"columns": [[...], [...], ...]}} (one array per
 * feature column). {@code /predict/echo} answers the same columns, {@code /predict/score} one
 * column of row sums. The server JVM needs {@code -Dsun.net.httpserver.nodelay=true}, or small
 * responses wait about 40 ms for Nagle's algorithm.
 */
final class RestJsonBench {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private RestJsonBench() {}

  /** The request and response body. */
  record Columns(float[][] columns) {}

  static RunningServer serve() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
    ExecutorService executor = Executors.newCachedThreadPool();
    server.createContext("/predict/echo", exchange -> respond(exchange, false));
    server.createContext("/predict/score", exchange -> respond(exchange, true));
    server.setExecutor(executor);
    server.start();
    return RunningServer.of(
        server.getAddress().getPort(),
        () -> {
          server.stop(0);
          executor.shutdownNow();
        });
  }

  private static void respond(HttpExchange exchange, boolean score) throws IOException {
    try {
      Columns input = MAPPER.readValue(exchange.getRequestBody(), Columns.class);
      Columns output = score ? new Columns(new float[][] {rowSums(input.columns())}) : input;
      byte[] body = MAPPER.writeValueAsBytes(output);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    } finally {
      exchange.close(); // on an error, the client sees the connection close
    }
  }

  static float[] rowSums(float[][] columns) {
    float[] sums = new float[columns.length == 0 ? 0 : columns[0].length];
    for (float[] column : columns) {
      for (int r = 0; r < sums.length; r++) {
        sums[r] += column[r];
      }
    }
    return sums;
  }

  static final class Client implements BenchClient {
    private final BenchTable table;
    private final HttpClient http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final String base;
    private final URI scoreUri;
    private final Map<Integer, Columns> batches = new HashMap<>();

    Client(int port, BenchTable table) {
      this.table = table;
      this.base = "http://127.0.0.1:" + port + "/predict/";
      this.scoreUri = URI.create(base + "score");
      for (int rows : Bench.UNARY_ROWS) {
        batches.put(rows, slice(table.columns(), rows));
      }
      batches.put(table.batchRows(), new Columns(table.columns()));
    }

    private static Columns slice(float[][] columns, int rows) {
      float[][] slice = new float[columns.length][];
      for (int c = 0; c < columns.length; c++) {
        slice[c] = Arrays.copyOf(columns[c], rows);
      }
      return new Columns(slice);
    }

    @Override
    public long stream(String model, long rows) throws Exception {
      URI uri = URI.create(base + model);
      long received = 0;
      for (int size : table.batchSizes(rows)) {
        Columns batch = batches.computeIfAbsent(size, n -> slice(table.columns(), n));
        Columns result = post(uri, batch);
        float[][] columns = result.columns();
        int last = columns[0].length - 1;
        if (model.equals("echo")) {
          table.checkFeature(BenchTable.COLUMNS - 1, last, columns[BenchTable.COLUMNS - 1][last]);
        } else {
          table.checkScore(0, columns[0][0]);
          table.checkScore(last, columns[0][last]);
        }
        received += columns[0].length;
      }
      return received;
    }

    private Columns post(URI uri, Columns body) throws IOException, InterruptedException {
      HttpResponse<byte[]> response = http.send(request(uri, body), BodyHandlers.ofByteArray());
      return parse(response);
    }

    private static HttpRequest request(URI uri, Columns body) throws IOException {
      return HttpRequest.newBuilder(uri)
          .header("Content-Type", "application/json")
          .POST(BodyPublishers.ofByteArray(MAPPER.writeValueAsBytes(body)))
          .build();
    }

    private static Columns parse(HttpResponse<byte[]> response) throws IOException {
      if (response.statusCode() != 200) {
        throw new IOException("HTTP " + response.statusCode() + " from " + response.uri());
      }
      return MAPPER.readValue(response.body(), Columns.class);
    }

    @Override
    public void unary(int rows) throws Exception {
      checkScores(post(scoreUri, batches.get(rows)).columns()[0], rows);
    }

    private void checkScores(float[] scores, int rows) {
      if (scores.length != rows) {
        throw new IllegalStateException(
            "score: " + scores.length + " scores came back for " + rows + " rows");
      }
      table.checkScore(0, scores[0]);
      table.checkScore(rows - 1, scores[rows - 1]);
    }

    @Override
    public void unaryAsync(int rows, Consumer<@Nullable Throwable> done) {
      HttpRequest request;
      try {
        request = request(scoreUri, batches.get(rows));
      } catch (IOException e) {
        done.accept(e);
        return;
      }
      http.sendAsync(request, BodyHandlers.ofByteArray())
          .whenComplete(
              (response, error) -> {
                Throwable failure = error;
                if (response != null) {
                  try {
                    checkScores(parse(response).columns()[0], rows);
                  } catch (IOException | RuntimeException e) {
                    failure = e;
                  }
                }
                done.accept(failure);
              });
    }

    @Override
    public void close() {
      // java.net.http.HttpClient has no close() before JDK 21; its threads are daemons.
    }
  }
}
