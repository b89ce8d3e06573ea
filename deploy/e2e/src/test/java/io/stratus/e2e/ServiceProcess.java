package io.stratus.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One Stratus service in its own JVM, configured by environment variables like a real
 * deployment, with its output in a log file; {@link #port()} is read from the line the
 * service prints when it listens.
 */
final class ServiceProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on [^:\\s]+:(\\d+)");

  final String name;
  final Path log;
  private final Process process;
  private final int port;

  ServiceProcess(String name, String mainClass, Map<String, String> env, Path logDir)
      throws Exception {
    this(name, mainClass, env, logDir, List.of());
  }

  /**
   * @param prefix a command the JVM runs under, e.g. {@code ip netns exec NS} for a host in
   *     its own network namespace
   */
  ServiceProcess(String name, String mainClass, Map<String, String> env, Path logDir,
      List<String> prefix) throws Exception {
    this(name, mainClass, env, logDir, prefix, List.of());
  }

  /** @param jvmOptions options after the defaults (a later -Xmx wins), e.g. {@code -Xmx1g} */
  ServiceProcess(String name, String mainClass, Map<String, String> env, Path logDir,
      List<String> prefix, List<String> jvmOptions) throws Exception {
    this.name = name;
    this.log = logDir.resolve(name + ".log");
    String java = ProcessHandle.current().info().command().orElse("java");
    // As the all-in-one runs them: the agent with a small heap (its memory is its read
    // window, not the disk's size; its live set is ~30 MiB), committed as needed, and the
    // serial collector (G1's own structures cost ~40 MiB more on a 128 MiB heap).
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(java);
    cmd.addAll(mainClass.endsWith("AgentMain")
        ? List.of("-Xmx64m", "-Xms16m", "-XX:+UseSerialGC") : List.of("-Xmx512m"));
    // Extra JVM options for every service, e.g. a flight recording while profiling:
    // STRATUS_SERVICE_JAVA_OPTS="-XX:StartFlightRecording=filename=/tmp/x.jfr"
    String extra = System.getenv("STRATUS_SERVICE_JAVA_OPTS");
    if (extra != null && !extra.isBlank()) {
      for (String opt : extra.trim().split("\\s+")) {
        cmd.add(opt.replace("{name}", name));
      }
    }
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    if (mainClass.endsWith("AgentMain")) {
      pb.environment().put("MALLOC_ARENA_MAX", "2");  // as deploy/aio.sh starts it
    }
    process = pb.start();
    process.getOutputStream().close();
    port = awaitPort();
  }

  private int awaitPort() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        Matcher m = LISTENING.matcher(Files.readString(log));
        if (m.find()) {
          return Integer.parseInt(m.group(1));
        }
      }
      if (!process.isAlive()) {
        throw new IllegalStateException(name + " exited:\n" + tail());
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException(name + " did not start in 90 s:\n" + tail());
  }

  int port() {
    return port;
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  /** host:port, for a service listening on {@code host} rather than loopback. */
  String address(String host) {
    return host + ":" + port;
  }

  String tail() throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    String all = Files.readString(log);
    return all.length() > 4000 ? all.substring(all.length() - 4000) : all;
  }

  /** The process id. */
  long pid() {
    return process.pid();
  }

  /** Peak resident memory of the process so far, from /proc (VmHWM), in KiB. */
  long peakRssKib() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmHWM for " + name);
  }

  boolean alive() {
    return process.isAlive();
  }

  /** SIGKILL: the process gets no chance to clean up. */
  void kill() throws Exception {
    process.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
