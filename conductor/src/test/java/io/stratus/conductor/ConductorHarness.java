package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.config.ConductorConfig;
import io.stratus.conductor.config.ConfigLoader;
import io.stratus.conductor.testing.AgentSimulator;
import io.stratus.conductor.testing.InProcessGateway;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.Capabilities;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.testkit.PostgresCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A conductor under test: its own database on the shared throwaway PostgreSQL cluster,
 * the conductor served in-process, the real image-gateway in-process over a temporary
 * filesystem store ({@link InProcessGateway}), and a simulated compute agent
 * ({@link AgentSimulator}: many hosts, failures at any step) for the compute host, which
 * uploads its snapshots into that gateway. The host stays up through a real heartbeat
 * stream.
 */
public final class ConductorHarness implements AutoCloseable {
  public static final String HOST = "host-1";
  public static final String MEMBER_A = "token-member-a";
  public static final String MEMBER_B = "token-member-b";
  public static final String ADMIN = "token-admin";
  /** Heartbeat interval: short, so a host goes down within a test. */
  public static final Duration HEARTBEAT = Duration.ofMillis(500);
  public static final int MISSED = 3;

  public final InProcessGateway gateway;
  public final AgentSimulator agent;
  public final String dbUrl;
  public final String dbUser;
  public final Conductor conductor;
  public final String baseImageId;

  private final String agentName = InProcessServerBuilder.generateName();
  private final String conductorName = InProcessServerBuilder.generateName();
  private final Server agentServer;
  private final ManagedChannel conductorChannel;
  private final List<AutoCloseable> closers = new ArrayList<>();
  private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor();
  private final ConductorConfig config;

  public ConductorHarness(PostgresCluster cluster) throws Exception {
    this(cluster, Map.of());
  }

  /** A harness whose conductor configuration also has {@code extraConfig}. */
  public ConductorHarness(PostgresCluster cluster, Map<String, String> extraConfig)
      throws Exception {
    dbUrl = cluster.createDatabase("conductor");
    dbUser = cluster.user();
    gateway = InProcessGateway.start();
    agent = new AgentSimulator(HOST, gateway);
    agentServer = InProcessServerBuilder.forName(agentName).addService(agent.served()).build().start();
    Map<String, String> settings = new java.util.HashMap<>(extraConfig);
    settings.putAll(Map.of(
        "db.url", dbUrl,
        "db.user", dbUser,
        "db.pool.size", "20",
        "gateway.address", "in-process:" + gateway.name(),
        "heartbeat.interval", HEARTBEAT.toMillis() + "ms",
        "heartbeat.missed", Integer.toString(MISSED),
        "api.tokens", MEMBER_A + "=project-a:user-a:member,"
            + MEMBER_B + "=project-b:user-b:member,"
            + ADMIN + "=admin-project:admin-user:admin"));
    settings.put("tls.insecure", "true");
    config = ConfigLoader.fromMap(settings);
    conductor = Conductor.start(config, InProcessServerBuilder.forName(conductorName),
        TransportSecurity.plaintext("test conductor"),
        (host, address) -> InProcessChannelBuilder.forName(address).build(), gateway.channel(),
        Clock.systemUTC());
    conductorChannel = InProcessChannelBuilder.forName(conductorName).build();
    register(HOST, agentName);
    keepBeating(HOST);
    baseImageId = gateway.seedActiveImage("cirros").getId();
  }

  /** The channel to the image-gateway. */
  public ManagedChannel gatewayChannel() {
    return gateway.channel();
  }

  /** Registers a host whose agent is served in-process under {@code agentAddress}. */
  public void register(String host, String agentAddress) {
    register(host, agentAddress, List.of("local"));
  }

  /** Registers another host served by the harness's simulated agent, offering {@code storageKinds}. */
  public void registerOnFakeAgent(String host, List<String> storageKinds) {
    register(host, agentName, storageKinds);
  }

  private void register(String host, String agentAddress, List<String> storageKinds) {
    AgentRegistryGrpc.newBlockingStub(conductorChannel).register(RegisterRequest.newBuilder()
        .setHost(host)
        .setAddress(agentAddress)
        .setAgentVersion("fake-1")
        .addContractVersions("stratus.agent.v1")
        .setCapabilities(Capabilities.newBuilder()
            .setHypervisor("fake").addAllStorageKinds(storageKinds).setLiveSnapshot(true)
            .setRbdDirectSnapshot(storageKinds.contains("rbd")))
        .build());
  }

  /** Beats for {@code host} over one heartbeat stream until the harness closes. */
  public void keepBeating(String host) {
    var call = AgentRegistryGrpc.newStub(conductorChannel).heartbeat(new StreamObserver<>() {
      @Override
      public void onNext(HeartbeatResponse value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    });
    var task = beats.scheduleAtFixedRate(
        () -> call.onNext(HeartbeatRequest.newBuilder().setHost(host).build()),
        0, 100, TimeUnit.MILLISECONDS);
    closers.add(() -> {
      task.cancel(false);
      call.onCompleted();
    });
  }

  public ManagedChannel channel() {
    return conductorChannel;
  }

  /** A Servers stub with the given bearer token. */
  public ServersGrpc.ServersBlockingStub servers(String token) {
    return ServersGrpc.newBlockingStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  public ServersGrpc.ServersStub serversAsync(String token) {
    return ServersGrpc.newStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  public HostsGrpc.HostsBlockingStub hosts(String token) {
    return HostsGrpc.newBlockingStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  public static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return m;
  }

  /** Boots a server in project A and waits until it is active. */
  public String bootActive(String name) throws InterruptedException {
    String id = servers(MEMBER_A).createServer(CreateServerRequest.newBuilder()
        .setName(name)
        .setImageRef(baseImageId)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128).setRootGb(1))
        .build()).getServer().getId();
    var s = awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), "server did not boot: " + s);
    return id;
  }

  /** Waits until the server has no task and the conductor has no stream open. */
  public io.stratus.proto.conductor.v1.Server awaitIdle(String id) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      var s = servers(ADMIN).getServer(GetServerRequest.newBuilder().setServerId(id).build())
          .getServer();
      if (s.getTaskState() == TaskState.TASK_STATE_NONE
          && conductor.taskDriver().runningRequests().isEmpty()) {
        return s;
      }
      Thread.sleep(10);
    }
    fail("server " + id + " still busy after 20 s");
    return null;
  }

  /**
   * Test set-up only: puts a server into a state the API has no verb for. A task is
   * recorded as owned by this harness's (live) conductor, so the reconciler leaves it be.
   */
  public void forceState(String id, String vmState, String taskState, int powerState)
      throws SQLException {
    forceState(id, vmState, taskState, powerState, taskState == null ? null : conductor.id());
  }

  /** As {@link #forceState(String, String, String, int)} with an explicit task owner. */
  public void forceState(String id, String vmState, String taskState, int powerState,
      String owner) throws SQLException {
    try (Connection c = jdbc();
        var st = c.prepareStatement("UPDATE instances SET vm_state = ?, task_state = ?,"
            + " power_state = ?, task_owner = ? WHERE uuid = ?::uuid")) {
      st.setString(1, vmState);
      st.setString(2, taskState);
      st.setInt(3, powerState);
      st.setString(4, owner);
      st.setString(5, id);
      assertEquals(1, st.executeUpdate());
    }
  }

  /** Another conductor on the same database, agent and gateway, served in-process. */
  public Conductor startAnotherConductor(String serverName) throws Exception {
    return startAnotherConductor(serverName, Clock.systemUTC());
  }

  /** Another conductor whose own clock is {@code clock} (e.g. one that runs ahead). */
  public Conductor startAnotherConductor(String serverName, Clock clock) throws Exception {
    return Conductor.start(config, InProcessServerBuilder.forName(serverName),
        TransportSecurity.plaintext("test conductor"),
        (host, address) -> InProcessChannelBuilder.forName(address).build(), gateway.channel(),
        clock);
  }

  /** A Servers stub on another conductor's in-process server. */
  public static ServersGrpc.ServersBlockingStub servers(ManagedChannel channel, String token) {
    return ServersGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** A plain JDBC connection to the conductor's database, to assert on rows. */
  public Connection jdbc() throws SQLException {
    return DriverManager.getConnection(dbUrl, dbUser, "");
  }

  /** Runs a query returning one long. */
  /** Runs one SQL statement (tests that age a row: an expiry, a lease). */
  public int execute(String sql, Object... params) throws SQLException {
    try (Connection c = jdbc(); var st = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        st.setObject(i + 1, params[i]);
      }
      return st.executeUpdate();
    }
  }

  public long count(String sql, Object... params) throws SQLException {
    try (Connection c = jdbc(); var st = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        st.setObject(i + 1, params[i]);
      }
      try (var rs = st.executeQuery()) {
        assertTrue(rs.next());
        return rs.getLong(1);
      }
    }
  }

  /** Runs a query returning one string (or null). */
  public String string(String sql, Object... params) throws SQLException {
    try (Connection c = jdbc(); var st = c.prepareStatement(sql)) {
      for (int i = 0; i < params.length; i++) {
        st.setObject(i + 1, params[i]);
      }
      try (var rs = st.executeQuery()) {
        assertTrue(rs.next(), "no row for " + sql);
        return rs.getString(1);
      }
    }
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    beats.shutdownNow();
    conductorChannel.shutdownNow();
    conductor.close();
    agentServer.shutdownNow();
    gateway.close();
  }
}
