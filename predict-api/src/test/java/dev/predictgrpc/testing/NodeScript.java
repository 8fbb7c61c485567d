/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.testing;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a Node.js test client and returns the last line it printed, the JSON summary the interop
 * tests' scripts end with. Stateless and thread-safe.
 */
public final class NodeScript {
  private NodeScript() {}

  /** The {@code node} to run: {@code -Dnode.executable}, else the one on the PATH. */
  public static String node() {
    return System.getProperty("node.executable", "node");
  }

  /**
   * Fails unless each of {@code packages} is installed in {@code nodeDir/node_modules}, saying that
   * the Maven build installs them.
   */
  public static void requirePackages(Path nodeDir, List<String> packages) {
    for (String pkg : packages) {
      if (!Files.isDirectory(nodeDir.resolve("node_modules").resolve(pkg))) {
        fail(
            "%s is not installed in %s/node_modules: the Maven build runs 'npm ci' there at"
                + " process-test-resources (skipped with -Dnpm.skip or -DskipTests); run"
                + " 'npm ci' in that directory, or build without -Dnpm.skip",
            pkg, nodeDir);
      }
    }
  }

  /**
   * Runs {@code command} in {@code workingDir}, its output in files under {@code tmp}, and returns
   * the last line of its standard output; fails with its output unless it exits 0 within {@code
   * timeoutSeconds}. Its standard error, if any, is printed.
   */
  public static String run(List<String> command, Path workingDir, Path tmp, long timeoutSeconds)
      throws IOException, InterruptedException {
    Path out = tmp.resolve("stdout.txt");
    Path err = tmp.resolve("stderr.txt");
    Process process;
    try {
      process =
          new ProcessBuilder(command)
              .directory(workingDir.toFile())
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
    } catch (IOException e) {
      throw new AssertionError(
          "cannot run '"
              + command.get(0)
              + "': this test needs Node.js 18 or newer on the PATH (or -Dnode.executable=...)"
              + " to run the Node client in "
              + workingDir,
          e);
    }
    if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      fail(
          "the Node client did not finish in %d s\nstdout:\n%s\nstderr:\n%s",
          timeoutSeconds, read(out), read(err));
    }
    String stdout = read(out);
    String stderr = read(err);
    if (process.exitValue() != 0) {
      fail(
          "the Node client failed (exit %d): %s\nstdout:\n%s",
          process.exitValue(), stderr.strip(), stdout);
    }
    String[] lines = stdout.strip().split("\n");
    System.out.println("Node client summary: " + lines[lines.length - 1]);
    if (!stderr.isBlank()) {
      System.out.println("Node client stderr:\n" + stderr);
    }
    return lines[lines.length - 1];
  }

  private static String read(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
  }
}
