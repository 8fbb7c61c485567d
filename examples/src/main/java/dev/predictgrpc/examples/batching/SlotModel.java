/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.batching;

import dev.predictgrpc.examples.demo.IrisSchema;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.PredictContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A model that runs one call at a time, as a GPU or a single native session does: every call holds
 * the one slot for a fixed overhead plus a small cost per row (by default 2 ms + 2 us per row),
 * however many threads call it. Its answer is the sum of the four iris features.
 *
 * <p>The slot is a fair lock, so calls without batching are served in arrival order (the best
 * case for them). The holder waits out its time parked, then spins the last 200 us so the cost is
 * exact: that time is the device's, not the host's, as with a GPU kernel the thread waits on.
 */
public final class SlotModel extends ModelService {
  private static final Schema OUTPUT =
      new Schema(
          List.of(
              Field.notNullable(
                  "score", new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE))));
  private static final long SPIN_NANOS = 200_000;

  private final ReentrantLock slot = new ReentrantLock(true);
  private final long fixedNanos;
  private final long perRowNanos;

  /** A model named {@code slot} costing {@code fixed} per call plus {@code perRow} per row. */
  public SlotModel(Duration fixed, Duration perRow) {
    this.fixedNanos = fixed.toNanos();
    this.perRowNanos = perRow.toNanos();
  }

  /** 2 ms per call plus 2 us per row. */
  public SlotModel() {
    this(Duration.ofMillis(2), Duration.ofNanos(2_000));
  }

  @Override
  public String name() {
    return "slot";
  }

  @Override
  public String description() {
    return "one call at a time, " + fixedNanos / 1000 + " us + " + perRowNanos / 1000
        + " us per row";
  }

  @Override
  public Schema inputSchema() {
    return IrisSchema.FEATURES;
  }

  @Override
  public Schema outputSchema() {
    return OUTPUT;
  }

  @Override
  public VectorSchemaRoot predict(PredictContext ctx, VectorSchemaRoot input) {
    int rows = input.getRowCount();
    Float4Vector score = new Float4Vector(OUTPUT.getFields().get(0), ctx.allocator());
    try {
      score.allocateNew(rows);
      slot.lock();
      try {
        long end = System.nanoTime() + fixedNanos + rows * perRowNanos;
        for (int i = 0; i < rows; i++) {
          float sum = 0;
          for (int c = 0; c < 4; c++) {
            sum += ((Float4Vector) input.getVector(c)).get(i);
          }
          score.set(i, sum);
        }
        holdUntil(end);
      } finally {
        slot.unlock();
      }
      score.setValueCount(rows);
      return VectorSchemaRoot.of(score);
    } catch (RuntimeException e) {
      score.close();
      throw e;
    }
  }

  private static void holdUntil(long end) {
    long remaining;
    while ((remaining = end - System.nanoTime()) > SPIN_NANOS) {
      LockSupport.parkNanos(remaining - SPIN_NANOS);
    }
    while (end - System.nanoTime() > 0) {
      Thread.onSpinWait();
    }
  }
}
