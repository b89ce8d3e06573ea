package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A gateway in its own JVM, configured by environment like a deployment (plaintext: the
 * tests using it are about processes dying, TLS is TransportSecurityTest's), so a test can
 * SIGKILL it.
 */
final class GatewayProcess implements AutoCloseable {
  private static final Pattern LISTENING = Pattern.compile("listening on [^:]+:(\\d+)");

  final Path log;
  private final Process process;
  final int port;

  GatewayProcess(Path log, Map<String, String> env) throws Exception {
    this.log = log;
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), "io.stratus.gateway.GatewayMain")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("STRATUS_GATEWAY_PORT", "0");
    pb.environment().put("STRATUS_GATEWAY_TLS_INSECURE", "true");
    pb.environment().putAll(env);
    process = pb.start();
    port = awaitPort();
  }

  private int awaitPort() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        Matcher m = LISTENING.matcher(Files.readString(log));
        if (m.find()) {
          return Integer.parseInt(m.group(1));
        }
      }
      assertTrue(process.isAlive(), Files.exists(log) ? Files.readString(log) : "gateway exited");
      Thread.sleep(50);
    }
    throw new AssertionError("gateway did not start: " + log);
  }

  /** A plaintext channel to this gateway. */
  ManagedChannel channel() {
    return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(8 << 20).build();
  }

  /** SIGKILL: nothing of the gateway's runs after it. */
  void kill() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      kill();
    }
  }
}
