/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.bench;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.jspecify.annotations.Nullable;

/**
 * What one JVM reports about itself: CPU time, GC collections, peak resident set size (Linux {@code
 * VmHWM}) and the peak of its Arrow root allocator. Child JVMs print it as one line, {@code STATS
 * cpu=... gc=... gcms=... jitms=... hwm=... arrowpeak=...}.
 *
 * @param cpuNanos CPU time of the whole process (all threads, JIT and GC included)
 * @param gcCount collections by all collectors since the JVM started
 * @param gcMillis time spent in them (as reported by the collectors)
 * @param jitMillis time the JIT compilers have spent so far; -1 where the JVM does not say
 * @param peakRssBytes the resident set size's high-water mark; -1 where /proc is missing
 * @param arrowPeakBytes the Arrow allocator's peak; -1 when the process has none
 */
record ProcessStats(
    long cpuNanos,
    long gcCount,
    long gcMillis,
    long jitMillis,
    long peakRssBytes,
    long arrowPeakBytes) {
  static final String PREFIX = "STATS ";

  static ProcessStats sample(@Nullable BufferAllocator allocator) {
    long cpu =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    long count = 0;
    long millis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, gc.getCollectionCount());
      millis += Math.max(0, gc.getCollectionTime());
    }
    CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
    return new ProcessStats(
        cpu,
        count,
        millis,
        jit != null && jit.isCompilationTimeMonitoringSupported()
            ? jit.getTotalCompilationTime()
            : -1,
        procStatusBytes("VmHWM"),
        allocator == null ? -1 : allocator.getPeakMemoryAllocation());
  }

  /** A field of /proc/self/status in bytes ("VmHWM: 123 kB"), or -1 where there is none. */
  static long procStatusBytes(String field) {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/self/status"));
      for (String line : lines) {
        if (line.startsWith(field + ":")) {
          String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
          return Long.parseLong(parts[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Not Linux: report "unknown".
    }
    return -1;
  }

  /** CPU and GC spent between {@code before} and this sample; peaks are this sample's. */
  ProcessStats since(ProcessStats before) {
    return new ProcessStats(
        cpuNanos - before.cpuNanos,
        gcCount - before.gcCount,
        gcMillis - before.gcMillis,
        jitMillis < 0 || before.jitMillis < 0 ? -1 : jitMillis - before.jitMillis,
        peakRssBytes,
        arrowPeakBytes);
  }

  String toLine() {
    return String.format(
        Locale.ROOT,
        "%scpu=%d gc=%d gcms=%d jitms=%d hwm=%d arrowpeak=%d",
        PREFIX,
        cpuNanos,
        gcCount,
        gcMillis,
        jitMillis,
        peakRssBytes,
        arrowPeakBytes);
  }

  static ProcessStats parse(String line) {
    if (!line.startsWith(PREFIX)) {
      throw new IllegalArgumentException("not a stats line: " + line);
    }
    Map<String, Long> values = new HashMap<>();
    for (String pair : line.substring(PREFIX.length()).trim().split("\\s+")) {
      int eq = pair.indexOf('=');
      values.put(pair.substring(0, eq), Long.parseLong(pair.substring(eq + 1)));
    }
    return new ProcessStats(
        values.get("cpu"),
        values.get("gc"),
        values.get("gcms"),
        values.get("jitms"),
        values.get("hwm"),
        values.get("arrowpeak"));
  }
}
