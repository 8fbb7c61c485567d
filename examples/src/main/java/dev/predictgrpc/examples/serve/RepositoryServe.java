/*
 * Licensed under the Apache License, Version 2.0.
 */
package dev.predictgrpc.examples.serve;

import dev.predictgrpc.examples.serve.Serve.UsageException;
import dev.predictgrpc.server.Authenticator;
import dev.predictgrpc.server.Authorizer;
import dev.predictgrpc.server.ModelLoader;
import dev.predictgrpc.server.ModelVersion;
import dev.predictgrpc.server.PredictServer;
import dev.predictgrpc.server.VersionPolicy;
import io.grpc.Metadata;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLSession;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.jspecify.annotations.Nullable;

/**
 * {@code serve --model-repository DIR}: the options, and a server whose models follow a {@link
 * ModelRepository}, polled, or changed through the admin service with {@code --admin}.
 */
final class RepositoryServe {
  static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(2);

  /** The principal of calls that carry the admin token. */
  static final String ADMIN_PRINCIPAL = "admin";

  private RepositoryServe() {}

  /** The repository options of one command line. Not thread-safe. */
  static final class Settings {
    @Nullable Path dir;
    @Nullable Duration pollInterval;
    final Map<String, VersionPolicy> policies = new LinkedHashMap<>();
    boolean admin;
    @Nullable Path adminTokenFile;

    /**
     * Takes the option at {@code args[i]} if it is a repository option.
     *
     * @return how many arguments it took: 0 if it is not a repository option
     * @throws UsageException for a bad value
     */
    int accept(String[] args, int i) {
      String arg = args[i];
      if (arg.equals("--admin")) {
        admin = true;
        return 1;
      }
      if (!List.of(
                  "--model-repository", "--poll-interval", "--version-policy", "--admin-token-file")
              .contains(arg)
          || i + 1 >= args.length) {
        return 0;
      }
      String value = args[i + 1];
      switch (arg) {
        case "--model-repository":
          dir = Path.of(value);
          break;
        case "--poll-interval":
          pollInterval = parseDuration(arg, value);
          break;
        case "--version-policy":
          int equals = value.indexOf('=');
          if (equals <= 0) {
            throw new UsageException(
                "--version-policy "
                    + value
                    + " is not NAME=latest:N, NAME=all or NAME=specific:V,..");
          }
          policies.put(value.substring(0, equals), parsePolicy(value.substring(equals + 1)));
          break;
        default:
          adminTokenFile = Path.of(value);
      }
      return 2;
    }

    /**
     * Checks the options against each other and the bind address.
     *
     * @throws UsageException if they do not go together
     */
    void check(String bind) {
      if (dir == null) {
        if (admin || pollInterval != null || !policies.isEmpty() || adminTokenFile != null) {
          throw new UsageException(
              "--admin, --admin-token-file, --poll-interval and --version-policy need "
                  + "--model-repository DIR");
        }
        return;
      }
      if (admin && pollInterval != null) {
        // As in Triton: the poller would undo what the admin service does (reload what an admin
        // unloaded), so a repository is either followed or controlled, not both.
        throw new UsageException(
            "--admin and --poll-interval do not go together: with --admin the repository changes"
                + " only through the admin service");
      }
      if (adminTokenFile != null && !admin) {
        throw new UsageException("--admin-token-file needs --admin");
      }
      if (admin && adminTokenFile == null && !isLoopback(bind)) {
        throw new UsageException(
            "--admin without --admin-token-file would let anyone who can reach "
                + bind
                + " load and unload models; give --admin-token-file FILE, or --bind 127.0.0.1");
      }
    }
  }

  /** Starts a server whose models come from the repository. */
  static Serve.Running start(
      Settings settings, int port, String bind, boolean openInference, PrintStream out)
      throws IOException {
    Path dir = settings.dir;
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IOException("the model repository " + dir + " is not a directory");
    }
    BufferAllocator allocator = new RootAllocator();
    PredictServer server = null;
    ModelRepository repository = null;
    try {
      PredictServer.Builder builder =
          PredictServer.builder(allocator)
              .port(port)
              .bindAddress(bind)
              .openInferenceProtocol(openInference);
      ModelRepository.Builder repositoryBuilder =
          ModelRepository.builder(dir).listener(printing(out));
      settings.policies.forEach(
          (name, policy) -> {
            if (name.equals("*")) {
              repositoryBuilder.defaultVersionPolicy(policy);
            } else {
              repositoryBuilder.versionPolicy(name, policy);
            }
          });
      repository = repositoryBuilder.build();
      if (settings.admin) {
        configureAdmin(builder, settings.adminTokenFile, repository);
      }
      server = builder.build().start();
      repository.attach(server.models());
      repository.loadAll();
      Duration interval =
          settings.pollInterval != null ? settings.pollInterval : DEFAULT_POLL_INTERVAL;
      String control;
      if (settings.admin) {
        control = "changed through the admin service (predictgrpc.v1.ModelAdminService)";
      } else if (interval.isZero()) {
        control = "loaded once (--poll-interval 0)";
      } else {
        repository.start(interval);
        control = "checked for changes every " + describe(interval);
      }
      out.println("model repository " + dir + ": serving " + served(server) + "; " + control);
      out.println(Serve.servingLine(bind, server.port()));
      out.flush();
      return new Serve.Running(server, allocator, repository);
    } catch (IOException | RuntimeException e) {
      if (repository != null) {
        repository.close();
      }
      if (server != null) {
        server.close();
      }
      allocator.close();
      throw e;
    }
  }

  /**
   * The admin service, with the repository as its loader. With a token file, calls carrying {@code
   * authorization: Bearer <token>} are the {@value #ADMIN_PRINCIPAL} principal, the only one the
   * admin service accepts; calls without the header stay anonymous, so predictions need no token,
   * as without {@code --admin}. Without a token file (loopback only, see {@link Settings#check}),
   * every local caller may administer.
   */
  private static void configureAdmin(
      PredictServer.Builder builder, @Nullable Path tokenFile, ModelLoader loader)
      throws IOException {
    if (tokenFile == null) {
      builder.adminService(loader, Authorizer.allowAll());
      return;
    }
    String token = Files.readString(tokenFile, StandardCharsets.UTF_8).trim();
    if (token.isEmpty()) {
      throw new UsageException("--admin-token-file " + tokenFile + " is empty");
    }
    Authenticator tokens = Authenticator.bearerTokens(Map.of(token, ADMIN_PRINCIPAL));
    Metadata.Key<String> authorization =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    builder
        .authenticator(
            (Metadata headers, @Nullable SSLSession tls) ->
                headers.containsKey(authorization)
                    ? tokens.authenticate(headers, tls)
                    : "anonymous")
        .adminService(loader, (principal, model) -> principal.equals(ADMIN_PRINCIPAL));
  }

  /** Prints what the repository does: changes to {@code out}, failures to it as well. */
  private static ModelRepository.Listener printing(PrintStream out) {
    return new ModelRepository.Listener() {
      @Override
      public void loaded(String name, String version, boolean replaced) {
        out.println((replaced ? "reloaded model " : "loaded model ") + name + ":" + version);
      }

      @Override
      public void unloaded(String name, String version) {
        out.println("unloaded model " + name + ":" + version + " (its directory is gone)");
      }

      @Override
      public void failed(String name, String version, String reason) {
        out.println(
            "model "
                + name
                + ":"
                + version
                + " failed to load (tried again when its file "
                + "changes; what served keeps serving): "
                + reason);
      }

      @Override
      public void scanFailed(String reason) {
        out.println("cannot read the model repository: " + reason);
      }
    };
  }

  private static String served(PredictServer server) {
    List<String> versions = new ArrayList<>();
    for (ModelVersion version : server.models().list()) {
      versions.add(version.name() + ":" + version.version());
    }
    return versions.isEmpty() ? "no model yet" : String.join(", ", versions);
  }

  /** {@code 2s}, {@code 500ms}, or a number of seconds such as {@code 0.5}; 0 is allowed. */
  static Duration parseDuration(String option, String value) {
    try {
      Duration duration;
      if (value.endsWith("ms")) {
        duration = Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
      } else {
        String seconds = value.endsWith("s") ? value.substring(0, value.length() - 1) : value;
        duration = Duration.ofNanos(Math.round(Double.parseDouble(seconds) * 1e9));
      }
      if (duration.isNegative()) {
        throw new NumberFormatException();
      }
      return duration;
    } catch (NumberFormatException e) {
      throw new UsageException(option + " " + value + " is not a duration such as 2s or 500ms");
    }
  }

  /** {@code latest:N}, {@code all} or {@code specific:V1,V2}. */
  static VersionPolicy parsePolicy(String value) {
    try {
      if (value.equals("all")) {
        return VersionPolicy.all();
      }
      if (value.startsWith("latest:")) {
        return VersionPolicy.latest(Integer.parseInt(value.substring("latest:".length())));
      }
      if (value.startsWith("specific:")) {
        return VersionPolicy.specific(value.substring("specific:".length()).split(","));
      }
    } catch (IllegalArgumentException e) { // NumberFormatException included.
      throw new UsageException("version policy '" + value + "': " + e.getMessage());
    }
    throw new UsageException(
        "version policy '" + value + "' is not latest:N, all or specific:V1,V2");
  }

  private static String describe(Duration interval) {
    return interval.toMillis() % 1000 == 0
        ? interval.toSeconds() + " s"
        : String.format(Locale.ROOT, "%d ms", interval.toMillis());
  }

  static boolean isLoopback(String address) {
    try {
      return InetAddress.getByName(address).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
