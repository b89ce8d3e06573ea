package io.stratus.conductor.hosts;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** One gRPC channel per agent address, made on first use and reused. */
public final class AgentClients implements AutoCloseable {
  private final Function<String, ManagedChannel> channelFactory;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  /** Channels from {@code channelFactory} (tests pass in-process channels). */
  public AgentClients(Function<String, ManagedChannel> channelFactory) {
    this.channelFactory = channelFactory;
  }

  /** Plaintext Netty channels to host:port addresses. */
  public static AgentClients netty() {
    return new AgentClients(address -> NettyChannelBuilder.forTarget(address).usePlaintext().build());
  }

  /** An async stub for the agent at {@code address}. */
  public ComputeAgentGrpc.ComputeAgentStub stub(String address) {
    return ComputeAgentGrpc.newStub(channels.computeIfAbsent(address, channelFactory));
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
