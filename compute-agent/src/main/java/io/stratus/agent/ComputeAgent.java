package io.stratus.agent;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.stratus.agent.disk.SnapshotStreamer;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.images.ImageCache;
import io.stratus.agent.link.ConductorLink;
import io.stratus.agent.ops.OperationRegistry;
import io.stratus.agent.quiesce.GuestFreeze;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.agent.tasks.AgentEnv;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.support.grpc.GracefulShutdown;
import io.stratus.support.tls.PeerGuard;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.io.IOException;
import java.nio.file.Files;
import io.stratus.support.grpc.Answered;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compute-agent process: recovers what a crash left, serves {@code agent.v1} (plus
 * health and reflection) on a caller-supplied {@link ServerBuilder}, and keeps the host
 * registered with the conductor.
 */
public final class ComputeAgent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeAgent.class);

  private final Server server;
  private final Hypervisor hypervisor;
  private final ConductorLink link;
  private final HealthStatusManager health;
  private final RbdDisks rbd;
  private final OperationRegistry operations;

  private ComputeAgent(Server server, Hypervisor hypervisor, ConductorLink link,
      HealthStatusManager health, RbdDisks rbd, OperationRegistry operations) {
    this.operations = operations;
    this.rbd = rbd;
    this.server = server;
    this.hypervisor = hypervisor;
    this.link = link;
    this.health = health;
  }

  /**
   * Starts the agent. {@code advertise} maps the bound port to the address the conductor
   * should dial (e.g. {@code port -> "127.0.0.1:" + port}). Over TLS ({@code security})
   * only conductor certificates may call {@code agent.v1.ComputeAgent}.
   */
  public static ComputeAgent start(AgentConfig config, ServerBuilder<?> builder,
      TransportSecurity security, Hypervisor hypervisor, ManagedChannel conductor, ManagedChannel gateway,
      java.util.function.IntFunction<String> advertise) throws IOException {
    Files.createDirectories(config.instancesDir());
    RbdDisks rbd = config.cephConf() == null ? null
        : RbdDisks.connect(config.cephConf(), config.cephPool(), config.rbdSnapshotRetry());
    int committed = Recovery.run(hypervisor, config.instancesDir(), config.imageCacheDir());
    if (committed > 0) {
      LOG.warn("recovered {} snapshot overlays left by a crash", committed);
    }
    if (rbd != null) {
      Recovery.removeRbdSnapshots(hypervisor, rbd);
    }
    int thawed = GuestFreeze.thawLeftovers(hypervisor, config.instancesDir(), Duration.ofSeconds(10));
    if (thawed > 0) {
      LOG.warn("thawed {} guests left frozen by a crash", thawed);
    }
    AgentEnv env = new AgentEnv(config, hypervisor, new ImageCache(config.imageCacheDir(), gateway),
        new SnapshotStreamer(gateway, config.readThreads()),
        new Semaphore(config.maxConcurrentSnapshots(), true), gateway, rbd);
    OperationRegistry operations = new OperationRegistry(Clock.systemUTC(),
        config.orphanTimeout());
    operations.startOrphanSweep(Duration.ofSeconds(10));
    AgentService service = new AgentService(env, operations);
    HealthStatusManager health = new HealthStatusManager();
    Server server = builder
        // the conductor's request id follows the call into the operation's logs
        .intercept(io.stratus.support.grpc.RequestIds.serverPropagating())
        .addService(ServerInterceptors.intercept(service,
            PeerGuard.allow(security, Role.CONDUCTOR), Answered.marker()))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .addService(ProtoReflectionService.newInstance())
        .build()
        .start();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(ComputeAgentGrpc.SERVICE_NAME, ServingStatus.SERVING);
    String address = advertise.apply(server.getPort());
    ConductorLink link = new ConductorLink(conductor,
        () -> RegisterRequest.newBuilder().setHost(config.host()).setAddress(address)
            .setAgentVersion(AgentService.VERSION).addAllContractVersions(AgentService.CONTRACTS)
            .setCapabilities(service.capabilities()).build(),
        () -> HeartbeatRequest.newBuilder().setHost(config.host())
            .addAllRunningOperationIds(operations.running()).build());
    link.start();
    LOG.info("compute-agent serving; host={} address={} libvirt={}", config.host(), address,
        hypervisor.uri());
    return new ComputeAgent(server, hypervisor, link, health, rbd, operations);
  }

  public int port() {
    return server.getPort();
  }

  public boolean registered() {
    return link.registered();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() throws InterruptedException {
    link.close();
    operations.close();
    health.enterTerminalState();
    GracefulShutdown.stop(server, java.time.Duration.ofSeconds(10));
    hypervisor.close();
    if (rbd != null) {
      rbd.close();
    }
    LOG.info("compute-agent stopped");
  }
}
