package io.stratus.conductor;

import io.grpc.Channel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.stratus.conductor.api.AgentRegistryService;
import io.stratus.conductor.api.IdentityService;
import io.stratus.conductor.api.TokensService;
import io.stratus.conductor.db.TokenStore;
import io.stratus.conductor.identity.Tokens;
import io.stratus.conductor.identity.Users;
import io.stratus.conductor.openstack.OpenStackRest;
import io.stratus.conductor.api.AuthInterceptor;
import io.stratus.conductor.api.HostsService;
import io.stratus.conductor.api.ServersService;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.conductor.compute.ComputeContext;
import io.stratus.conductor.compute.SnapshotImages;
import io.stratus.conductor.compute.RequestValidator;
import io.stratus.conductor.compute.StatePublisher;
import io.stratus.conductor.compute.TaskDriver;
import io.stratus.conductor.config.ConductorConfig;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostStore;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.EventRelay;
import io.stratus.conductor.db.HeartbeatWriter;
import io.stratus.conductor.events.EventBus;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.support.tls.PeerGuard;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.image.GatewayImageRegistry;
import io.stratus.conductor.recovery.ConductorLease;
import io.stratus.conductor.recovery.PowerSync;
import io.stratus.conductor.recovery.SnapshotGc;
import io.stratus.conductor.recovery.Reconciler;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.support.grpc.GracefulShutdown;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor process: wires the database, the domain services and the gRPC services
 * (Servers and Hosts behind bearer-token auth; AgentRegistry for agents; health and
 * reflection so {@code grpcurl} needs no .proto files) onto a caller-supplied {@link
 * ServerBuilder}, so tests can serve it in-process.
 */
public final class Conductor implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Conductor.class);
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(10);

  private final Database db;
  private final Server server;
  private final TaskDriver driver;
  private final AgentClients agents;
  private final HostRegistry hosts;
  private final HealthStatusManager health;
  private final ConductorLease lease;
  private final Reconciler reconciler;
  private final PowerSync powerSync;
  private final SnapshotGc gc;
  private final EventRelay relay;
  private final HeartbeatWriter heartbeats;
  private final OpenStackRest rest;

  private Conductor(Database db, Server server, TaskDriver driver, AgentClients agents,
      HostRegistry hosts, HealthStatusManager health, ConductorLease lease,
      Reconciler reconciler, PowerSync powerSync, SnapshotGc gc, EventRelay relay,
      HeartbeatWriter heartbeats, OpenStackRest rest) {
    this.rest = rest;
    this.relay = relay;
    this.heartbeats = heartbeats;
    this.powerSync = powerSync;
    this.gc = gc;
    this.db = db;
    this.server = server;
    this.driver = driver;
    this.agents = agents;
    this.hosts = hosts;
    this.health = health;
    this.lease = lease;
    this.reconciler = reconciler;
  }

  /** This conductor's lease id (the owner recorded on the tasks it drives). */
  public String id() {
    return lease.id();
  }

  public Reconciler reconciler() {
    return reconciler;
  }

  public PowerSync powerSync() {
    return powerSync;
  }

  public SnapshotGc snapshotGc() {
    return gc;
  }

  /**
   * Opens the database (migrating it), builds the services and starts serving.
   *
   * @param security the process's TLS: who may call the agent registry
   * @param agentChannels makes the channel to an agent (host name, address)
   * @param gateway channel to the image-gateway
   */
  public static Conductor start(
      ConductorConfig config,
      ServerBuilder<?> builder,
      TransportSecurity security,
      AgentClients.ChannelFactory agentChannels,
      Channel gateway,
      Clock clock) throws IOException {
    Database db = Database.open(config.dbUrl(), config.dbUser(), config.dbPassword(),
        config.dbPoolSize());
    EventRelay relay = null;
    HeartbeatWriter heartbeats = null;
    OpenStackRest rest = null;
    try {
      InstanceStore instances = new InstanceStore(clock);
      ActionLog actions = new ActionLog(clock);
      heartbeats = new HeartbeatWriter(db);
      HostRegistry hosts = new HostRegistry(db, new HostStore(), instances, heartbeats,
          config.heartbeatInterval(), config.missedHeartbeats());
      EventBus bus = new EventBus();
      relay = EventRelay.start(db, bus);
      StatePublisher publisher = new StatePublisher(instances, relay, clock);
      AgentClients agents = new AgentClients(agentChannels);
      var images = new GatewayImageRegistry(gateway);
      ConductorLease lease = new ConductorLease(db, config.heartbeatInterval(),
          config.hostDownAfter());
      lease.start();
      TaskDriver driver = new TaskDriver(db, instances, actions, images, agents, publisher, clock,
          config.agentCallTimeout(), config.agentReattachWindow(),
          host -> hosts.find(host).map(h -> h.address()), lease.id());
      ComputeApi api = ComputeApi.create(new ComputeContext(db, instances, actions, hosts, images,
              driver, publisher, new RequestValidator(config.maxImageProperties()), lease.id()),
          clock, new ComputeApi.VolumeSettings(config.volumesPool(),
              config.volumeBackedSnapshotRole()), config.softRebootTimeout());
      Reconciler reconciler = new Reconciler(db, instances, actions, hosts, images, driver,
          publisher, lease, config.heartbeatInterval());
      PowerSync powerSync = new PowerSync(db, instances, actions, hosts, agents, driver,
          publisher, lease.id(), config.powerSyncInterval());

      SnapshotImages snapshotImages = new SnapshotImages(db, images, hosts, agents);
      SnapshotGc gc = new SnapshotGc(db, instances, images, snapshotImages,
          config.snapshotGcAfter());
      Tokens tokens = new Tokens(db, new TokenStore(), config.apiTokens(), clock);
      AuthInterceptor auth = new AuthInterceptor(tokens);
      HealthStatusManager health = new HealthStatusManager();
      try {
        rest = OpenStackRest.start(config.openstack(), api, tokens, new Users(db, clock),
            security.httpsServerContext());
      } catch (java.security.GeneralSecurityException e) {
        throw new IOException("no TLS for the OpenStack REST APIs: " + e.getMessage(), e);
      }
      Server server =
          builder
              // every call gets its request id, which its logs and its action carry
              .intercept(io.stratus.support.grpc.RequestIds.serverAssigning())
              .addService(ServerInterceptors.intercept(new ServersService(api,
                  snapshotImages, bus, clock,
                  config.watchesPerProject()), auth))
              .addService(ServerInterceptors.intercept(new HostsService(hosts), auth))
              .addService(ServerInterceptors.intercept(new TokensService(tokens), auth))
              .addService(ServerInterceptors.intercept(new AgentRegistryService(hosts),
                  PeerGuard.allow(security, Role.AGENT)))
              .addService(ServerInterceptors.intercept(new IdentityService(tokens),
                  PeerGuard.allow(security, Role.GATEWAY)))
              .addService(health.getHealthService())
              .addService(ProtoReflectionServiceV1.newInstance())
              .addService(ProtoReflectionService.newInstance())
              .build()
              .start();
      health.setStatus("", ServingStatus.SERVING);
      health.setStatus(ServersGrpc.SERVICE_NAME, ServingStatus.SERVING);
      health.setStatus(HostsGrpc.SERVICE_NAME, ServingStatus.SERVING);
      health.setStatus(io.stratus.proto.conductor.v1.TokensGrpc.SERVICE_NAME,
          ServingStatus.SERVING);
      reconciler.start();
      powerSync.start();
      gc.start(config.snapshotGcAfter().compareTo(Duration.ofMinutes(5)) < 0
          ? config.snapshotGcAfter() : Duration.ofMinutes(5));
      LOG.info("conductor serving; port={} conductor={} config={}", server.getPort(), lease.id(),
          config);
      return new Conductor(db, server, driver, agents, hosts, health, lease, reconciler,
          powerSync, gc, relay, heartbeats, rest);
    } catch (IOException | RuntimeException e) {
      if (rest != null) {
        rest.close();
      }
      if (relay != null) {
        relay.close();
      }
      if (heartbeats != null) {
        heartbeats.close();
      }
      db.close();
      throw e;
    }
  }

  /** The ports of the OpenStack REST APIs (Keystone first), those enabled. */
  public java.util.List<Integer> restPorts() {
    return rest.ports();
  }

  /** The port served (useful with port 0). */
  public int port() {
    return server.getPort();
  }

  /**
   * Registers the conductor's gauges (hosts by status, servers by task state) and the
   * database pool's meters in {@code registry}; once.
   */
  public void bindMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
    ConductorMeters.bind(registry, db, new InstanceStore(java.time.Clock.systemUTC()), hosts);
    db.bindMetrics(registry);
  }

  /** The health service (for {@link io.stratus.support.grpc.HealthEndpoint}). */
  public io.grpc.BindableService healthService() {
    return health.getHealthService();
  }

  public TaskDriver taskDriver() {
    return driver;
  }

  public HostRegistry hosts() {
    return hosts;
  }

  /** Blocks until the server terminates. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Graceful stop: stop taking calls, let running calls finish within a deadline. */
  @Override
  public void close() throws InterruptedException {
    health.enterTerminalState();
    rest.close();
    GracefulShutdown.stop(server, SHUTDOWN_GRACE);
    reconciler.close();
    powerSync.close();
    gc.close();
    driver.close();
    heartbeats.close();
    agents.close();
    // Last: once the lease is gone, other conductors adopt what we left in flight.
    lease.close();
    relay.close();
    db.close();
    LOG.info("conductor stopped");
  }
}
