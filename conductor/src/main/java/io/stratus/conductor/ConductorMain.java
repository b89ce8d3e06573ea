package io.stratus.conductor;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.conductor.config.ConductorConfig;
import io.stratus.conductor.config.ConfigLoader;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.support.grpc.HealthEndpoint;
import io.stratus.support.grpc.ReplicaTargets;
import io.stratus.support.launch.Launch;
import io.stratus.support.metrics.Metrics;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.net.InetSocketAddress;
import java.time.Clock;

/**
 * Runs the conductor: {@code java -jar stratus-conductor.jar [--config FILE]}. The config
 * file is optional when every required key comes from {@code STRATUS_CONDUCTOR_*}
 * environment variables; a wrong or missing setting stops start-up with a list of
 * every problem.
 *
 * <p>The one port serves the public API (TLS; callers authenticate with a token, a client
 * certificate is optional) and the agent registry (agent certificates only). Agents and
 * the gateway are called with the conductor's certificate.
 */
public final class ConductorMain {
  private ConductorMain() {}

  public static void main(String[] args) throws Exception {
    ConductorConfig config = Launch.config("stratus-conductor", args, file -> ConfigLoader.load(file, System.getenv()));
    TransportSecurity tls = TransportSecurity.open(config.tls(), "conductor");
    tls.requireOwnIdentity(Role.CONDUCTOR, null);
    Metrics metrics = Metrics.start("conductor", config.metrics());
    ManagedChannel gateway =
        NettyChannelBuilder.forTarget(ReplicaTargets.target(config.gatewayAddress()),
            tls.channel(Role.GATEWAY))
        .defaultLoadBalancingPolicy(ReplicaTargets.policy(config.gatewayAddress())).build();
    Conductor conductor =
        Conductor.start(
            config,
            NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port()),
                tls.server(false)).intercept(metrics.serverInterceptor()),
            tls,
            AgentClients.netty(tls),
            gateway,
            Clock.systemUTC());
    conductor.bindMetrics(metrics.registry());
    HealthEndpoint probes = config.health().enabled()
        ? HealthEndpoint.start(NettyServerBuilder.forAddress(
            new InetSocketAddress(config.health().host(), config.health().port())),
            conductor.healthService())
        : null;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        if (probes != null) {
          probes.close();
        }
        conductor.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      gateway.shutdownNow();
      tls.close();
      metrics.close();
    }, "conductor-shutdown"));
    System.out.println("conductor listening on " + config.listenHost() + ":" + conductor.port()
);
    if (probes != null) {
      System.out.println("health (plaintext) on " + config.health().host() + ":" + probes.port());
    }
    if (config.metrics().enabled()) {
      System.out.println("metrics on http://" + config.metrics().host() + ":" + metrics.port()
          + "/metrics");
    }
    conductor.awaitTermination();
  }
}
