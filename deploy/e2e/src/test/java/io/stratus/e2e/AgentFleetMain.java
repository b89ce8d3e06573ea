package io.stratus.e2e;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.agent.AgentConfig;
import io.stratus.agent.ComputeAgent;
import io.stratus.agent.hypervisor.simulator.SimulatedHypervisor;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Several real compute-agents in one JVM, each with its own settings, certificate, gRPC
 * server, conductor link and gateway channel, all on the simulated hypervisor: the
 * control-plane benchmark's hosts without a JVM's fixed cost per host (on two cores, ten
 * agent JVMs idle at about 40 % of the machine). Settings: {@code FLEET_HOSTS} (comma
 * separated host names) and, per host {@code H}, the agent's settings as
 * {@code STRATUS_AGENT_*} with {@code {host}} standing for {@code H} (instances.dir,
 * image.cache.dir, tls.cert, tls.key). Prints one "listening on" line per agent, in order.
 */
public final class AgentFleetMain {
  private AgentFleetMain() {}

  public static void main(String[] args) throws Exception {
    List<ComputeAgent> agents = new ArrayList<>();
    for (String host : System.getenv("FLEET_HOSTS").split(",")) {
      Map<String, String> env = new HashMap<>();
      System.getenv().forEach((k, v) -> {
        if (k.startsWith("STRATUS_AGENT_")) {
          env.put(k, v.replace("{host}", host));
        }
      });
      env.put("STRATUS_AGENT_HOST", host);
      env.put("STRATUS_AGENT_LIBVIRT_URI", SimulatedHypervisor.URI);
      AgentConfig config = AgentConfig.load(null, env);
      TransportSecurity tls = TransportSecurity.open(config.tls(), "compute-agent " + host);
      tls.requireOwnIdentity(Role.AGENT, host);
      ManagedChannel conductor = NettyChannelBuilder.forTarget(config.conductorAddress(),
          tls.channel(Role.CONDUCTOR)).build();
      ManagedChannel gateway = NettyChannelBuilder.forTarget(config.gatewayAddress(),
          tls.channel(Role.GATEWAY)).maxInboundMessageSize(8 << 20).build();
      ComputeAgent agent = ComputeAgent.start(config,
          NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), 0),
              tls.server(true)),
          tls, new SimulatedHypervisor(), conductor, gateway,
          port -> config.listenHost() + ":" + port);
      agents.add(agent);
      System.out.println("compute-agent " + host + " listening on " + config.listenHost() + ":"
          + agent.port());
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (ComputeAgent a : agents) {
        try {
          a.close();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }, "fleet-shutdown"));
    agents.get(0).awaitTermination();
  }
}
