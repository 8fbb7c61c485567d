/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.score;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Reads a CSV file with a header line as Arrow batches of a given schema, one batch at a time,
 * into one reused root: the file is never loaded whole.
 *
 * <p>Columns are matched to the schema's fields by header name; extra CSV columns are skipped, a
 * missing one is an error. Supported field types: float32, float64, int32, int64, utf8. An empty
 * cell is a null. Plain comma separation: quoted fields are not supported, which suits numeric
 * feature files.
 *
 * <p>Each batch returned by {@link #next()} is borrowed until the next call. Not thread-safe.
 */
public final class CsvBatchReader implements Iterator<VectorSchemaRoot>, AutoCloseable {
  private final BufferedReader reader;
  private final String source;
  private final VectorSchemaRoot root;
  private final int[] csvIndex;
  private final int batchRows;
  private String pendingLine;
  /** The line number of {@link #pendingLine}; lines are read one ahead to know when input ends. */
  private long pendingLineNumber;
  private long lineNumber = 1;
  private long rowsRead;

  /**
   * Reads the header and prepares the batch root.
   *
   * @throws CsvFormatException if the header lacks a column of the schema
   */
  public CsvBatchReader(
      BufferedReader reader, String source, Schema schema, BufferAllocator allocator, int batchRows)
      throws IOException {
    this.reader = reader;
    this.source = source;
    this.batchRows = batchRows;
    String header = reader.readLine();
    if (header == null) {
      throw new CsvFormatException(source + " is empty; expected a header line");
    }
    Map<String, Integer> columns = new HashMap<>();
    String[] names = header.split(",", -1);
    for (int i = 0; i < names.length; i++) {
      columns.put(names[i].trim(), i);
    }
    List<Field> fields = schema.getFields();
    csvIndex = new int[fields.size()];
    for (int f = 0; f < fields.size(); f++) {
      Integer index = columns.get(fields.get(f).getName());
      if (index == null) {
        throw new CsvFormatException(
            source + " has no column '" + fields.get(f).getName() + "' (its columns: "
                + Arrays.toString(names) + ")");
      }
      csvIndex[f] = index;
    }
    this.root = VectorSchemaRoot.create(schema, allocator);
    this.pendingLine = readDataLine();
  }

  @Override
  public boolean hasNext() {
    return pendingLine != null;
  }

  /** Reads up to {@code batchRows} rows into the reused root. Borrowed until the next call. */
  @Override
  public VectorSchemaRoot next() {
    if (pendingLine == null) {
      throw new NoSuchElementException();
    }
    root.allocateNew();
    int row = 0;
    while (pendingLine != null && row < batchRows) {
      parseRow(pendingLine, pendingLineNumber, row++);
      pendingLine = readDataLine();
    }
    root.setRowCount(row);
    rowsRead += row;
    return root;
  }

  /** Rows read so far. */
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public void close() throws IOException {
    root.close();
    reader.close();
  }

  private String readDataLine() {
    try {
      String line;
      do {
        line = reader.readLine();
        lineNumber++;
      } while (line != null && line.isBlank());
      pendingLineNumber = lineNumber;
      return line;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void parseRow(String line, long lineNo, int row) {
    String[] cells = line.split(",", -1);
    List<FieldVector> vectors = root.getFieldVectors();
    for (int f = 0; f < vectors.size(); f++) {
      FieldVector vector = vectors.get(f);
      if (csvIndex[f] >= cells.length) {
        throw new CsvFormatException(
            source + " line " + lineNo + " has " + cells.length + " cells; column '"
                + vector.getName() + "' is missing");
      }
      String cell = cells[csvIndex[f]].trim();
      if (cell.isEmpty()) {
        vector.setNull(row);
        continue;
      }
      try {
        if (vector instanceof Float4Vector) {
          ((Float4Vector) vector).setSafe(row, Float.parseFloat(cell));
        } else if (vector instanceof Float8Vector) {
          ((Float8Vector) vector).setSafe(row, Double.parseDouble(cell));
        } else if (vector instanceof IntVector) {
          ((IntVector) vector).setSafe(row, Integer.parseInt(cell));
        } else if (vector instanceof BigIntVector) {
          ((BigIntVector) vector).setSafe(row, Long.parseLong(cell));
        } else if (vector instanceof VarCharVector) {
          ((VarCharVector) vector).setSafe(row, cell.getBytes(StandardCharsets.UTF_8));
        } else {
          throw new CsvFormatException(
              "column '" + vector.getName() + "' has type " + vector.getField().getType()
                  + ", which CSV input does not support");
        }
      } catch (NumberFormatException e) {
        throw new CsvFormatException(
            source + " line " + lineNo + ", column '" + vector.getName() + "': '" + cell
                + "' is not a valid " + vector.getField().getType());
      }
    }
  }

  /** A CSV file that does not fit the schema; the message names the file, line and column. */
  public static final class CsvFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CsvFormatException(String message) {
      super(message);
    }
  }

  /** Field names of a schema, for messages. */
  static List<String> names(Schema schema) {
    List<String> names = new ArrayList<>();
    schema.getFields().forEach(f -> names.add(f.getName()));
    return names;
  }
}
