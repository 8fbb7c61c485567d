/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import static java.util.Objects.requireNonNull;

import dev.predictgrpc.common.PredictException;
import dev.predictgrpc.examples.onnx.OnnxModel;
import dev.predictgrpc.server.ModelLoader;
import dev.predictgrpc.server.ModelManager;
import dev.predictgrpc.server.ModelService;
import dev.predictgrpc.server.ModelState;
import dev.predictgrpc.server.ModelVersion;
import dev.predictgrpc.server.VersionPolicy;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A directory of models in the layout Triton and TF Serving use, {@code
 * ROOT/NAME/VERSION/model.onnx}, kept in step with a server's {@link ModelManager}; it is also a
 * {@link ModelLoader}, for the admin service.
 *
 * <pre>{@code
 * ModelRepository repository = ModelRepository.builder(Path.of("models")).build();
 * PredictServer server = PredictServer.builder(allocator).port(8980).build().start();
 * repository.attach(server.models());       // the models it keeps in step with the directory
 * repository.loadAll();                     // what is there now
 * repository.start(Duration.ofSeconds(2));  // then follow the directory
 * }</pre>
 *
 * <p>The manager is attached after the repository is built because a server enabling the admin
 * service needs its loader, the repository, before the server and its manager exist.
 *
 * <p>Each {@link #poll()} scans the directory and reconciles:
 *
 * <ul>
 *   <li>A new version directory is loaded once it is <em>stable</em>: its {@code model.onnx} has
 *       the same size, modification time and file identity as at the previous poll, so a file still
 *       being copied is not picked up. Writing elsewhere and renaming into place is safer still: a
 *       copy that stalls for longer than a poll interval looks stable.
 *   <li>A version whose file changed is reloaded, once stable, with {@link ModelManager#replace}:
 *       calls in flight finish on the old one. A file rewritten with the same bytes (same SHA-256)
 *       is not reloaded.
 *   <li>A version whose directory (or {@code model.onnx}) has been gone at two polls in a row is
 *       removed and drains; one poll's absence is tolerated, as when a file is deleted and copied
 *       anew. Only versions this repository loaded are ever removed.
 *   <li>A file that fails to load (not ONNX, unreadable, truncated) is reported once through the
 *       {@link Listener} and not tried again until it changes. A failed load changes nothing (see
 *       {@link ModelManager}): whatever served keeps serving.
 *   <li>Which versions serve follows each name's {@link VersionPolicy}, default {@code latest(1)}
 *       as in Triton and TF Serving: a newer version replaces the served one, and deleting the
 *       newest brings the previous one back; the previous one is loaded before the newest is
 *       removed, so calls always find a version.
 * </ul>
 *
 * <p>Names and versions are directory names of letters, digits, {@code .}, {@code _} and {@code -},
 * not starting with a dot; anything else in the directory (such as a {@code .staging} directory to
 * copy into before renaming) is ignored.
 *
 * <p>Thread-safe: polls are serialized, and {@link #load} may run concurrently with them. Loads run
 * on the polling thread, one at a time. The repository does not own the manager and closing it
 * unloads nothing.
 */
public final class ModelRepository implements ModelLoader, AutoCloseable {
  /** The file each version directory holds. */
  public static final String MODEL_FILE = "model.onnx";

  private static final Logger logger = Logger.getLogger(ModelRepository.class.getName());
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]*");

  /** Creates a model, not yet started, from the bytes of a version's {@link #MODEL_FILE}. */
  @FunctionalInterface
  public interface ModelFactory {
    /**
     * @throws Exception if the bytes do not make a model
     */
    ModelService create(String name, String version, byte[] bytes) throws Exception;
  }

  /**
   * Hears what a repository did. Called on the thread that polls (or loads), one event at a time;
   * must not throw. The default methods log with java.util.logging.
   */
  public interface Listener {
    /** A version was loaded and now serves; {@code replaced} if it replaced one with its name. */
    default void loaded(String name, String version, boolean replaced) {
      logger.info((replaced ? "reloaded model " : "loaded model ") + name + ":" + version);
    }

    /** A version's directory was removed, so it was unpublished and drains. */
    default void unloaded(String name, String version) {
      logger.info("unloaded model " + name + ":" + version);
    }

    /**
     * A version failed to load; reported once per change of its file. Whatever served before keeps
     * serving.
     */
    default void failed(String name, String version, String reason) {
      logger.warning("model " + name + ":" + version + " failed to load: " + reason);
    }

    /** The repository itself could not be read; reported once until the error changes. */
    default void scanFailed(String reason) {
      logger.warning("cannot read the model repository: " + reason);
    }
  }

  /** One version directory: a name and a version. */
  private record Key(String name, String version) {
    @Override
    public String toString() {
      return name + ":" + version;
    }
  }

  /** What identifies one state of a file without reading it. */
  private record Fingerprint(long size, long modifiedNanos, @Nullable Object fileKey) {}

  /** A version this repository loaded, and from what. */
  private record Loaded(Fingerprint fingerprint, byte[] sha256) {}

  private final Path root;
  private volatile @Nullable ModelManager models;
  private final ModelFactory factory;
  private final VersionPolicy defaultPolicy;
  private final Map<String, VersionPolicy> policies;
  private final Listener listener;

  /** Names whose policy the manager has been given. */
  private final Set<String> policyApplied = ConcurrentHashMap.newKeySet();

  // Guarded by this (polls are serialized).
  private Map<Key, Fingerprint> previousScan = Map.of();
  private final Map<Key, Loaded> owned = new HashMap<>();
  private final Map<Key, Fingerprint> failed = new HashMap<>();
  private @Nullable String lastScanError;
  private @Nullable ScheduledExecutorService poller;

  private ModelRepository(Builder builder) {
    this.root = builder.root;
    this.factory = builder.factory;
    this.defaultPolicy = builder.defaultPolicy;
    this.policies = Map.copyOf(builder.policies);
    this.listener = builder.listener;
  }

  /**
   * Starts building a repository over {@code root}. Models are {@link OnnxModel}s unless {@link
   * Builder#factory} says otherwise.
   */
  public static Builder builder(Path root) {
    return new Builder(requireNonNull(root, "root"));
  }

  /**
   * Sets the models this repository keeps in step with the directory. Call it once, before {@link
   * #loadAll()}, {@link #poll()} or {@link #start}; {@link #load} also works without it.
   *
   * @throws IllegalStateException if a manager is attached already
   */
  public synchronized void attach(ModelManager models) {
    requireNonNull(models, "models");
    if (this.models != null) {
      throw new IllegalStateException("the repository is attached to a manager already");
    }
    this.models = models;
  }

  private ModelManager models() {
    ModelManager attached = models;
    if (attached == null) {
      throw new IllegalStateException("attach(ModelManager) first");
    }
    return attached;
  }

  /** The directory this repository reads. */
  public Path root() {
    return root;
  }

  /**
   * Loads every version in the directory now, as its version policies admit, without waiting for
   * files to be stable: for start-up, when nothing is being copied. A version that fails is
   * reported and tried again when its file changes.
   */
  public synchronized void loadAll() {
    models();
    Map<Key, Fingerprint> scan = scanOrReport();
    if (scan != null) {
      previousScan = scan; // Everything counts as stable.
      reconcile(scan);
    }
  }

  /** Scans the directory once and reconciles the served versions with it; see the class doc. */
  public synchronized void poll() {
    models();
    Map<Key, Fingerprint> scan = scanOrReport();
    if (scan != null) {
      reconcile(scan);
      previousScan = scan;
    }
  }

  /**
   * Polls every {@code interval} from a daemon thread of its own until {@link #close()}.
   *
   * @throws IllegalStateException if already started
   */
  public synchronized void start(Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("interval: " + interval + " (expected: > 0)");
    }
    if (poller != null) {
      throw new IllegalStateException("the repository is polling already");
    }
    models();
    ScheduledExecutorService executor =
        Executors.newSingleThreadScheduledExecutor(
            task -> {
              Thread thread = new Thread(task, "model-repository-poll");
              thread.setDaemon(true);
              return thread;
            });
    long nanos = interval.toNanos();
    executor.scheduleWithFixedDelay(this::pollQuietly, nanos, nanos, TimeUnit.NANOSECONDS);
    poller = executor;
  }

  /** Stops polling, letting a load in progress finish. Unloads nothing. Idempotent. */
  @Override
  public void close() {
    ScheduledExecutorService executor;
    synchronized (this) {
      executor = poller;
      poller = null;
    }
    if (executor == null) {
      return;
    }
    executor.shutdown();
    try {
      if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Every version directory holding a {@link #MODEL_FILE}, by name then version.
   *
   * @throws PredictException FAILED_PRECONDITION if the directory cannot be read
   */
  @Override
  public List<Loadable> loadable() {
    List<Loadable> loadable = new ArrayList<>();
    try {
      scan(root).keySet().forEach(key -> loadable.add(new Loadable(key.name, key.version)));
    } catch (IOException e) {
      throw new PredictException(
          Status.Code.FAILED_PRECONDITION, "cannot read the model repository " + root + ": " + e);
    }
    return loadable;
  }

  /**
   * Creates the model in {@code ROOT/name/version/model.onnx}, for the admin service.
   *
   * @throws PredictException INVALID_ARGUMENT for a name or version that is not a plain directory
   *     name (so no request can reach outside the repository), NOT_FOUND if there is no such file
   */
  @Override
  public ModelService load(String name, String version) throws Exception {
    checkName("model name", name);
    checkName("version", version);
    if (models != null) {
      applyPolicy(name); // Before the first version of a new name is added.
    }
    Path file = root.resolve(name).resolve(version).resolve(MODEL_FILE);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new PredictException(
          Status.Code.NOT_FOUND,
          "the repository has no " + name + "/" + version + "/" + MODEL_FILE);
    }
    return factory.create(name, version, bytes);
  }

  private void pollQuietly() {
    try {
      poll();
    } catch (RuntimeException e) {
      // One bad poll must not end the schedule: the next one may well succeed.
      logger.log(Level.WARNING, "polling the model repository " + root + " failed", e);
    }
  }

  /** The version directories now, or null (reported once) if the root cannot be read. */
  private @Nullable Map<Key, Fingerprint> scanOrReport() {
    Map<Key, Fingerprint> scan;
    try {
      scan = scan(root);
    } catch (IOException e) {
      String reason = e.toString();
      if (!reason.equals(lastScanError)) {
        lastScanError = reason;
        listener.scanFailed(reason);
      }
      return null;
    }
    lastScanError = null;
    return scan;
  }

  /** The version directories now, by name then version. */
  private static Map<Key, Fingerprint> scan(Path root) throws IOException {
    Map<Key, Fingerprint> scan = new TreeMap<>(Comparator.comparing(Key::toString));
    try (DirectoryStream<Path> names = Files.newDirectoryStream(root)) {
      for (Path nameDir : names) {
        String name = nameDir.getFileName().toString();
        if (!isName(name) || !Files.isDirectory(nameDir)) {
          continue;
        }
        try (DirectoryStream<Path> versions = Files.newDirectoryStream(nameDir)) {
          for (Path versionDir : versions) {
            String version = versionDir.getFileName().toString();
            Fingerprint fingerprint = isName(version) ? fingerprint(versionDir) : null;
            if (fingerprint != null) {
              scan.put(new Key(name, version), fingerprint);
            }
          }
        } catch (NoSuchFileException e) {
          // Deleted while we looked: as good as absent.
        }
      }
    }
    return scan;
  }

  private static @Nullable Fingerprint fingerprint(Path versionDir) {
    try {
      BasicFileAttributes attributes =
          Files.readAttributes(versionDir.resolve(MODEL_FILE), BasicFileAttributes.class);
      if (!attributes.isRegularFile()) {
        return null;
      }
      return new Fingerprint(
          attributes.size(),
          attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS),
          attributes.fileKey());
    } catch (IOException e) {
      return null; // No model file (yet): not a version.
    }
  }

  private void reconcile(Map<Key, Fingerprint> scan) {
    scan.keySet().forEach(key -> applyPolicy(key.name));
    failed.keySet().retainAll(scan.keySet());
    Set<Key> serving = serving();
    // Versions the manager no longer serves (drained by their policy, removed through the Java
    // API or the admin service) are no longer ours to remove or reload.
    owned.keySet().retainAll(serving);
    // Names served only from elsewhere are in neither set: not the repository's to manage.
    Set<String> names = new TreeSet<>();
    scan.keySet().forEach(key -> names.add(key.name));
    owned.keySet().forEach(key -> names.add(key.name));
    for (String name : names) {
      reconcile(name, scan, serving);
    }
  }

  private void reconcile(String name, Map<Key, Fingerprint> scan, Set<Key> serving) {
    List<Key> gone = new ArrayList<>();
    for (Key key : owned.keySet()) {
      if (key.name.equals(name) && !scan.containsKey(key) && !previousScan.containsKey(key)) {
        gone.add(key);
      }
    }
    // What may serve: what serves and stays, and complete files not yet served or failed.
    List<String> candidates = new ArrayList<>();
    for (Key key : serving) {
      if (key.name.equals(name) && !gone.contains(key)) {
        candidates.add(key.version);
      }
    }
    for (Map.Entry<Key, Fingerprint> entry : scan.entrySet()) {
      Key key = entry.getKey();
      if (key.name.equals(name)
          && !serving.contains(key)
          && isStable(key, entry.getValue())
          && !hasFailed(key, scan)) {
        candidates.add(key.version);
      }
    }
    List<Key> added = new ArrayList<>();
    List<Key> reloaded = new ArrayList<>();
    for (String version : policyOf(name).select(candidates)) {
      Key key = new Key(name, version);
      Fingerprint fingerprint = scan.get(key);
      if (!serving.contains(key)) {
        added.add(key);
      } else if (fingerprint != null
          && owned.containsKey(key)
          && !owned.get(key).fingerprint.equals(fingerprint)
          && isStable(key, fingerprint)
          && !hasFailed(key, scan)) {
        reloaded.add(key);
      }
    }
    if (!gone.isEmpty() && !added.isEmpty()) {
      // A version takes over from one whose directory is gone (deleting the newest rolls back to
      // the previous one). Load it first, so calls always find a version, under a policy that
      // admits both for that moment: the name's own one may admit only the newest.
      models().versionPolicy(name, VersionPolicy.all());
      try {
        added.forEach(key -> load(key, scan.get(key), false));
        gone.forEach(this::unload);
      } finally {
        models().versionPolicy(name, policyOf(name));
      }
    } else {
      gone.forEach(this::unload);
      added.forEach(key -> load(key, scan.get(key), false));
    }
    reloaded.forEach(key -> load(key, scan.get(key), true));
  }

  /** Reads, creates and publishes one version; a failure is remembered and reported once. */
  private void load(Key key, Fingerprint fingerprint, boolean replace) {
    Path file = root.resolve(key.name).resolve(key.version).resolve(MODEL_FILE);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      fail(key, fingerprint, "cannot read " + file + ": " + e);
      return;
    }
    if (!fingerprint.equals(fingerprint(file.getParent()))) {
      return; // Changed while we read it: not stable after all; the next poll looks again.
    }
    byte[] sha256 = sha256(bytes);
    Loaded before = owned.get(key);
    if (replace && before != null && Arrays.equals(before.sha256, sha256)) {
      owned.put(key, new Loaded(fingerprint, sha256)); // Touched or copied again, same bytes.
      return;
    }
    try {
      ModelService model = factory.create(key.name, key.version, bytes);
      if (replace) {
        models().replace(model);
      } else {
        models().add(model);
      }
    } catch (Exception e) {
      // The manager has closed the model and nothing changed: the served version keeps serving.
      fail(key, fingerprint, e.getMessage() != null ? e.getMessage() : e.toString());
      return;
    }
    failed.remove(key);
    owned.put(key, new Loaded(fingerprint, sha256));
    listener.loaded(key.name, key.version, replace);
  }

  private void unload(Key key) {
    owned.remove(key);
    try {
      models().remove(key.name, key.version);
    } catch (PredictException e) {
      return; // Removed meanwhile by someone else: nothing to report.
    }
    listener.unloaded(key.name, key.version);
  }

  private void fail(Key key, Fingerprint fingerprint, String reason) {
    failed.put(key, fingerprint);
    listener.failed(key.name, key.version, reason);
  }

  private boolean isStable(Key key, Fingerprint fingerprint) {
    return fingerprint.equals(previousScan.get(key));
  }

  /** Whether this very state of the file has failed to load already. */
  private boolean hasFailed(Key key, Map<Key, Fingerprint> scan) {
    Fingerprint failedAt = failed.get(key);
    return failedAt != null && failedAt.equals(scan.get(key));
  }

  private Set<Key> serving() {
    Set<Key> serving = new HashSet<>();
    for (ModelVersion version : models().list()) {
      if (version.state() == ModelState.SERVING) {
        serving.add(new Key(version.name(), version.version()));
      }
    }
    return serving;
  }

  private VersionPolicy policyOf(String name) {
    return policies.getOrDefault(name, defaultPolicy);
  }

  private void applyPolicy(String name) {
    if (policyApplied.add(name)) {
      models().versionPolicy(name, policyOf(name));
    }
  }

  private static boolean isName(String name) {
    return NAME.matcher(name).matches();
  }

  private static void checkName(String what, String name) {
    if (!isName(name)) {
      throw new PredictException(
          Status.Code.INVALID_ARGUMENT,
          what
              + " '"
              + (name.length() <= 64 ? name : name.substring(0, 64) + "...")
              + "' is not a repository directory name (letters,"
              + " digits, '.', '_' and '-', not starting with '.')");
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Builds a {@link ModelRepository}. Not thread-safe. */
  public static final class Builder {
    private final Path root;
    private ModelFactory factory =
        (name, version, bytes) ->
            OnnxModel.builder(name, bytes)
                .version(version)
                .description("ONNX model " + name + "/" + version + "/" + MODEL_FILE)
                .build();
    private VersionPolicy defaultPolicy = VersionPolicy.latest(1);
    private final Map<String, VersionPolicy> policies = new HashMap<>();
    private Listener listener = new Listener() {};

    private Builder(Path root) {
      this.root = root;
    }

    /** How a version's bytes become a model. Default: an {@link OnnxModel}. */
    public Builder factory(ModelFactory factory) {
      this.factory = requireNonNull(factory, "factory");
      return this;
    }

    /** The policy of names without one of their own. Default {@code latest(1)}. */
    public Builder defaultVersionPolicy(VersionPolicy policy) {
      this.defaultPolicy = requireNonNull(policy, "policy");
      return this;
    }

    /** The policy of one name. */
    public Builder versionPolicy(String name, VersionPolicy policy) {
      policies.put(requireNonNull(name, "name"), requireNonNull(policy, "policy"));
      return this;
    }

    /** Hears loads, unloads and failures. Default: logs them. */
    public Builder listener(Listener listener) {
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Creates the repository; it reads nothing until it is asked to (see {@link
     * ModelRepository#attach}).
     */
    public ModelRepository build() {
      return new ModelRepository(this);
    }
  }
}
