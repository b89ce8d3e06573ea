package io.stratus.support.grpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import java.io.IOException;
import java.time.Duration;

/**
 * A plaintext gRPC port that serves {@code grpc.health.v1.Health} and nothing else, for
 * probes that cannot present a client certificate (Kubernetes' {@code grpc} probes). It
 * answers what the service's own health manager says; every other method is UNIMPLEMENTED
 * there, so it opens nothing but the serving status. Off unless {@code health.port} is set
 * (an {@link io.stratus.support.config.OptionalEndpoint}).
 */
public final class HealthEndpoint implements AutoCloseable {
  private final Server server;

  private HealthEndpoint(Server server) {
    this.server = server;
  }

  /**
   * Serves {@code health} (a {@code HealthStatusManager}'s service) alone on {@code
   * builder}, a plaintext server on the endpoint's address.
   */
  public static HealthEndpoint start(ServerBuilder<?> builder, BindableService health)
      throws IOException {
    return new HealthEndpoint(builder.addService(health).build().start());
  }

  /** The bound port. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void close() throws InterruptedException {
    GracefulShutdown.stop(server, Duration.ofSeconds(2));
  }
}
