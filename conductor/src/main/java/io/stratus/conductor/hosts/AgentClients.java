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
 * One gRPC channel per agent host, made on first use and reused while the host keeps its
 * address. When a host re-registers at another address its old channel is shut down
 * (calls in flight on it finish; new ones go to the new address), so a conductor that
 * sees hosts come and go does not keep a channel per address it ever saw. Over TLS a
 * channel accepts only an agent certificate that names the host it was opened for, so an
 * agent cannot receive another host's calls by registering that host's address.
 */
public final class AgentClients implements AutoCloseable {
  /** Opens the channel to the agent of {@code host} listening at {@code address}. */
  @FunctionalInterface
  public interface ChannelFactory {
    ManagedChannel open(String host, String address);
  }

  private record Link(String address, ManagedChannel channel) {}

  private final ChannelFactory channelFactory;
  private final Map<String, Link> links = new ConcurrentHashMap<>();

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
    Link link = links.compute(host, (h, old) -> {
      if (old != null && old.address().equals(address)) {
        return old;
      }
      if (old != null) {
        old.channel().shutdown();
      }
      return new Link(address, channelFactory.open(host, address));
    });
    return ComputeAgentGrpc.newStub(link.channel());
  }

  /** The number of open channels (one per host at most). */
  int open() {
    return links.size();
  }

  @Override
  public void close() throws InterruptedException {
    for (Link l : links.values()) {
      l.channel().shutdown();
    }
    for (Link l : links.values()) {
      if (!l.channel().awaitTermination(5, TimeUnit.SECONDS)) {
        l.channel().shutdownNow();
      }
    }
  }
}
