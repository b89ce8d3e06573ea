package io.stratus.conductor.hosts;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC channel per agent (host name and address), made on first use and reused. Over
 * TLS a channel accepts only an agent certificate that names the host it was opened for, so
 * an agent cannot receive another host's calls by registering that host's address.
 */
public final class AgentClients implements AutoCloseable {
  /** Opens the channel to the agent of {@code host} listening at {@code address}. */
  @FunctionalInterface
  public interface ChannelFactory {
    ManagedChannel open(String host, String address);
  }

  private final ChannelFactory channelFactory;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  /** Channels from {@code channelFactory} (tests pass in-process channels). */
  public AgentClients(ChannelFactory channelFactory) {
    this.channelFactory = channelFactory;
  }

  /**
   * Netty channels to host:port addresses whose server certificate must be an agent's and
   * carry the host name (the host name is the TLS authority checked against the SANs).
   */
  public static ChannelFactory netty(TransportSecurity tls) {
    return (host, address) -> NettyChannelBuilder.forTarget(address, tls.channel(Role.AGENT))
        .overrideAuthority(host)
        .build();
  }

  /** An async stub for the agent of {@code host} at {@code address}. */
  public ComputeAgentGrpc.ComputeAgentStub stub(String host, String address) {
    return ComputeAgentGrpc.newStub(channels.computeIfAbsent(host + "\n" + address,
        k -> channelFactory.open(host, address)));
  }

  @Override
  public void close() throws InterruptedException {
    for (ManagedChannel c : channels.values()) {
      c.shutdown();
    }
    for (ManagedChannel c : channels.values()) {
      if (!c.awaitTermination(5, TimeUnit.SECONDS)) {
        c.shutdownNow();
      }
    }
  }
}
