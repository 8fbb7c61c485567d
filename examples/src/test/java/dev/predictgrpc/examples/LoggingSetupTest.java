/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The examples' runtime classpath (the one {@code java -jar} gets from {@code lib/}) has an SLF4J
 * provider that sends Arrow's SLF4J logging to java.util.logging, where gRPC and predict-grpc log:
 * no "No SLF4J providers" warning, and one place to configure levels.
 */
class LoggingSetupTest {
  @Test
  void slf4jLoggingReachesJavaUtilLogging() {
    assertThat(LoggerFactory.getILoggerFactory().getClass().getName())
        .isEqualTo("org.slf4j.jul.JDK14LoggerFactory");
    Logger jul = Logger.getLogger("dev.predictgrpc.examples.logging-test");
    List<LogRecord> records = new CopyOnWriteArrayList<>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            records.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    jul.addHandler(handler);
    try {
      LoggerFactory.getLogger("dev.predictgrpc.examples.logging-test").warn("through slf4j");
    } finally {
      jul.removeHandler(handler);
    }
    assertThat(records).extracting(LogRecord::getMessage).containsExactly("through slf4j");
  }
}
