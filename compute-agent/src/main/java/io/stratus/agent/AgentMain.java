package io.stratus.agent;

import io.grpc.ManagedChannel;
import io.stratus.support.imageio.StreamWindow;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.support.launch.Launch;
import java.net.InetSocketAddress;

/** Runs the compute-agent: {@code java -jar stratus-compute-agent.jar [--config FILE]}. */
public final class AgentMain {
  private AgentMain() {}

  public static void main(String[] args) throws Exception {
    AgentConfig config = Launch.config("stratus-compute-agent", args, file -> AgentConfig.load(file, System.getenv()));
    ManagedChannel conductor = NettyChannelBuilder.forTarget(config.conductorAddress()).usePlaintext().build();
    ManagedChannel gateway = NettyChannelBuilder.forTarget(config.gatewayAddress()).usePlaintext()
        .maxInboundMessageSize(8 << 20).flowControlWindow(StreamWindow.BYTES).build();
    String advertised = config.advertiseAddress();
    ComputeAgent agent = ComputeAgent.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port())),
        new LibvirtHypervisor(config.libvirtUri()), conductor, gateway,
        port -> config.port() == 0 ? config.listenHost() + ":" + port : advertised);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        agent.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      conductor.shutdownNow();
      gateway.shutdownNow();
    }, "agent-shutdown"));
    System.out.println("compute-agent " + config.host() + " listening on " + config.listenHost()
        + ":" + agent.port());
    agent.awaitTermination();
  }
}
