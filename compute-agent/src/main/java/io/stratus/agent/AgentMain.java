package io.stratus.agent;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.agent.hypervisor.simulator.SimulatedHypervisor;
import io.stratus.support.grpc.ReplicaTargets;
import io.stratus.support.grpc.RequestIds;
import io.stratus.support.imageio.StreamWindow;
import io.stratus.support.launch.Launch;
import io.stratus.support.metrics.Metrics;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.net.InetSocketAddress;

/**
 * Runs the compute-agent: {@code java -jar stratus-compute-agent.jar [--config FILE]}. Its
 * certificate ({@code tls.cert}) is its identity: it must be an agent certificate naming
 * {@code host}; the conductor and the gateway are reached over mutual TLS with it.
 */
public final class AgentMain {
  private AgentMain() {}

  /**
   * libvirt at {@code uri}, or the simulated hypervisor for {@code simulator:///} (Nova's
   * fake driver: for control-plane benchmarks, never a production host).
   */
  static Hypervisor hypervisor(String uri) {
    return SimulatedHypervisor.selects(uri) ? new SimulatedHypervisor() : new LibvirtHypervisor(uri);
  }

  public static void main(String[] args) throws Exception {
    AgentConfig config = Launch.config("stratus-compute-agent", args, file -> AgentConfig.load(file, System.getenv()));
    TransportSecurity tls = TransportSecurity.open(config.tls(), "compute-agent " + config.host());
    tls.requireOwnIdentity(Role.AGENT, config.host());
    ManagedChannel conductor = NettyChannelBuilder.forTarget(
        ReplicaTargets.target(config.conductorAddress()), tls.channel(Role.CONDUCTOR))
        .defaultLoadBalancingPolicy(ReplicaTargets.policy(config.conductorAddress())).build();
    ManagedChannel gateway = NettyChannelBuilder.forTarget(
            ReplicaTargets.target(config.gatewayAddress()), tls.channel(Role.GATEWAY))
        .defaultLoadBalancingPolicy(ReplicaTargets.policy(config.gatewayAddress()))
        .maxInboundMessageSize(8 << 20).flowControlWindow(StreamWindow.BYTES)
        .intercept(RequestIds.client()).build();
    String advertised = config.advertiseAddress();
    Metrics metrics = Metrics.start("compute-agent", config.metrics());
    ComputeAgent agent = ComputeAgent.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port()),
            tls.server(true)).intercept(metrics.serverInterceptor()),
        tls, hypervisor(config.libvirtUri()), conductor, gateway,
        port -> config.port() == 0 ? config.listenHost() + ":" + port : advertised);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        agent.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      conductor.shutdownNow();
      gateway.shutdownNow();
      tls.close();
      metrics.close();
    }, "agent-shutdown"));
    System.out.println("compute-agent " + config.host() + " listening on " + config.listenHost()
        + ":" + agent.port());
    if (config.metrics().enabled()) {
      System.out.println("metrics on http://" + config.metrics().host() + ":" + metrics.port()
          + "/metrics");
    }
    agent.awaitTermination();
  }
}
