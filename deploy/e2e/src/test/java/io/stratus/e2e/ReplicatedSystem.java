package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.grpc.ReplicaTargets;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.DevCa;
import io.stratus.testkit.Libvirt;
import io.stratus.testkit.PostgresCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Stratus as operators run it beyond one machine, every service its own process: two
 * conductors on one PostgreSQL, two image-gateways over one Ceph pool, and {@link #HOSTS}
 * compute hosts, each an agent in its own network namespace with its own address
 * ({@link NetworkLab}), all on the real libvirtd + qemu (TCG). Agents and gateways are
 * given the replicas as lists; every channel is mutual TLS from a CA made for the run.
 * Tests reach each conductor on its own channel, and the gateways as a list.
 */
final class ReplicatedSystem implements AutoCloseable {
  static final int HOSTS = 3;
  static final String MEMBER = "mh-member-token";
  static final String ADMIN = "mh-admin-token";

  final PostgresCluster postgres;
  final CephCluster ceph;
  final NetworkLab lab;
  final Path root;
  final DevCa pki;
  private final Path logs;
  private final Map<String, String>[] conductorEnv;
  private final Map<String, String>[] gatewayEnv;
  final ServiceProcess[] conductors = new ServiceProcess[2];
  final ServiceProcess[] gateways = new ServiceProcess[2];
  final ServiceProcess[] agents = new ServiceProcess[HOSTS + 1];  // 1-based
  private final TransportSecurity clientTls;
  private final ManagedChannel[] conductorChannels = new ManagedChannel[2];
  final ManagedChannel gatewayChannel;
  private final int[] conductorPorts = new int[2];
  private final int[] gatewayPorts = new int[2];
  private int restarts;

  @SuppressWarnings("unchecked")
  ReplicatedSystem() throws Exception {
    conductorEnv = new Map[2];
    gatewayEnv = new Map[2];
    postgres = PostgresCluster.start(true);
    CephCluster cephStarted = null;
    NetworkLab labMade = null;
    try {
      cephStarted = CephCluster.start();
      labMade = NetworkLab.create(HOSTS);
    } catch (Exception | Error e) {
      if (cephStarted != null) {
        cephStarted.close();
      }
      postgres.close();
      throw e;
    }
    ceph = cephStarted;
    lab = labMade;
    try {
      Libvirt.ensureRunning();
      root = Libvirt.scratchDir("multi-host");
      logs = Files.createDirectories(root.resolve("logs"));
      pki = DevCa.create(root.resolve("pki"));
      String ctl = lab.controlAddress();
      for (int i = 0; i < 2; i++) {
        conductorPorts[i] = freePort();
        gatewayPorts[i] = freePort();
      }
      String conductorList = ctl + ":" + conductorPorts[0] + "," + ctl + ":" + conductorPorts[1];
      String gatewayList = ctl + ":" + gatewayPorts[0] + "," + ctl + ":" + gatewayPorts[1];
      String db = postgres.createDatabase("multihost");
      for (int i = 0; i < 2; i++) {
        Map<String, String> g = new HashMap<>(tlsEnv("STRATUS_GATEWAY_",
            pki.issue("gateway", "gateway", ctl)));
        g.putAll(Map.of("STRATUS_GATEWAY_LISTEN_HOST", ctl,
            "STRATUS_GATEWAY_PORT", Integer.toString(gatewayPorts[i]),
            "STRATUS_GATEWAY_IDENTITY_ADDRESS", conductorList,
            "STRATUS_GATEWAY_BACKEND", "rbd",
            "STRATUS_GATEWAY_CEPH_CONF", ceph.conf().toString(),
            "STRATUS_GATEWAY_CEPH_POOL", ceph.imagePool()));
        gatewayEnv[i] = g;
        Map<String, String> c = new HashMap<>(tlsEnv("STRATUS_CONDUCTOR_",
            pki.issue("conductor", "conductor", ctl)));
        c.putAll(Map.of(
            "STRATUS_CONDUCTOR_DB_URL", db,
            "STRATUS_CONDUCTOR_DB_USER", postgres.user(),
            "STRATUS_CONDUCTOR_GATEWAY_ADDRESS", gatewayList,
            "STRATUS_CONDUCTOR_LISTEN_HOST", ctl,
            "STRATUS_CONDUCTOR_PORT", Integer.toString(conductorPorts[i]),
            "STRATUS_CONDUCTOR_HEARTBEAT_INTERVAL", "PT1S",
            "STRATUS_CONDUCTOR_POWER_SYNC_INTERVAL", "PT2S",
            "STRATUS_CONDUCTOR_VOLUMES_POOL", ceph.diskPool(),
            "STRATUS_CONDUCTOR_API_TOKENS",
            MEMBER + "=mh-project:mh-user:member," + ADMIN + "=admin:root:admin"));
        conductorEnv[i] = c;
      }
      for (int i = 0; i < 2; i++) {
        gateways[i] = new ServiceProcess("gateway-" + i, "io.stratus.gateway.GatewayMain",
            gatewayEnv[i], logs);
      }
      for (int i = 0; i < 2; i++) {
        conductors[i] = new ServiceProcess("conductor-" + i,
            "io.stratus.conductor.ConductorMain", conductorEnv[i], logs);
      }
      for (int n = 1; n <= HOSTS; n++) {
        Map<String, String> a = new HashMap<>(tlsEnv("STRATUS_AGENT_",
            pki.issue("agent", host(n), lab.hostAddress(n))));
        a.putAll(Map.of(
            "STRATUS_AGENT_HOST", host(n),
            "STRATUS_AGENT_LISTEN_HOST", lab.hostAddress(n),
            "STRATUS_AGENT_PORT", "0",
            "STRATUS_AGENT_CONDUCTOR_ADDRESS", conductorList,
            "STRATUS_AGENT_GATEWAY_ADDRESS", gatewayList,
            "STRATUS_AGENT_LIBVIRT_URI", "qemu:///system",
            "STRATUS_AGENT_INSTANCES_DIR", root.resolve(host(n)).resolve("instances").toString(),
            "STRATUS_AGENT_IMAGE_CACHE_DIR", root.resolve(host(n)).resolve("cache").toString()));
        agents[n] = new ServiceProcess("agent-" + n, "io.stratus.agent.AgentMain", a, logs,
            lab.inHost(n));
      }
      DevCa.Issued client = pki.issue("client", "mh-user");
      clientTls = TransportSecurity.open(TlsSettings.of(pki.caCert(), client.cert(),
          client.key(), Duration.ofMinutes(1)), "multi-host client");
      for (int i = 0; i < 2; i++) {
        conductorChannels[i] = NettyChannelBuilder.forTarget(ctl + ":" + conductorPorts[i],
            clientTls.channel(Role.CONDUCTOR)).build();
      }
      gatewayChannel = NettyChannelBuilder.forTarget(ReplicaTargets.target(gatewayList),
              clientTls.channel(Role.GATEWAY))
          .defaultLoadBalancingPolicy(ReplicaTargets.policy(gatewayList))
          .maxInboundMessageSize(8 << 20).build();
      awaitHostsUp(Duration.ofSeconds(90));
    } catch (Exception | Error e) {
      closeQuietly();
      throw e;
    }
  }

  static String host(int n) {
    return "mh-host-" + n;
  }

  private Map<String, String> tlsEnv(String prefix, DevCa.Issued issued) {
    return Map.of(prefix + "TLS_CA", pki.caCert().toString(),
        prefix + "TLS_CERT", issued.cert().toString(),
        prefix + "TLS_KEY", issued.key().toString());
  }

  private static int freePort() throws java.io.IOException {
    try (var socket = new java.net.ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** Conductor {@code i}'s Servers API as {@code token}. */
  ServersGrpc.ServersBlockingStub servers(int i, String token) {
    return ServersGrpc.newBlockingStub(conductorChannels[i])
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(token)))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  ServersGrpc.ServersStub serversAsync(int i, String token) {
    return ServersGrpc.newStub(conductorChannels[i])
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(token)));
  }

  HostsGrpc.HostsBlockingStub hosts(int i) {
    return HostsGrpc.newBlockingStub(conductorChannels[i])
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(ADMIN)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  ImagesGrpc.ImagesBlockingStub images() {
    return ImagesGrpc.newBlockingStub(gatewayChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(MEMBER)))
        .withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  /** Host {@code name}'s record on conductor {@code i}. */
  Host hostRecord(int i, String name) {
    return hosts(i).listHosts(ListHostsRequest.getDefaultInstance()).getHostsList().stream()
        .filter(h -> h.getName().equals(name)).findFirst().orElseThrow();
  }

  /** Waits until every host is up, as the first conductor sees it. */
  void awaitHostsUp(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        List<Host> hosts = hosts(0).withWaitForReady().listHosts(
            ListHostsRequest.getDefaultInstance()).getHostsList();
        if (hosts.stream().filter(h -> h.getStatus() == HostStatus.HOST_STATUS_UP).count()
            == HOSTS) {
          return;
        }
      } catch (io.grpc.StatusRuntimeException e) {
        // a conductor (re)starting
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("hosts not all up:\n" + agents[1].tail());
      }
      Thread.sleep(200);
    }
  }

  /** Uploads an active raw base image: {@code size} bytes, random data in the first half. */
  String seedBaseImage(long size) throws Exception {
    return StratusSystem.seedBaseImage(gatewayChannel, MEMBER, "mh-project", "mh-base", size);
  }

  /** An image's status, as the gateways see it. */
  io.stratus.proto.image.v1.ImageStatus imageStatus(String imageId) {
    return images().getImage(io.stratus.proto.image.v1.GetImageRequest.newBuilder()
        .setImageId(imageId).build()).getImage().getStatus();
  }

  /** Boots a server through conductor {@code i} and waits until it is active. */
  Server boot(int i, String name, String imageRef) throws Exception {
    String id = servers(i, MEMBER).createServer(CreateServerRequest.newBuilder().setName(name)
        .setImageRef(imageRef).setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(96))
        .build()).getServer().getId();
    return awaitIdle(i, id, Duration.ofSeconds(120));
  }

  Server get(int i, String id) {
    return servers(i, ADMIN).getServer(GetServerRequest.newBuilder().setServerId(id).build())
        .getServer();
  }

  /** Waits, asking conductor {@code i}, until the server has no task in flight. */
  Server awaitIdle(int i, String id, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Server s = get(i, id);
    while (s.getTaskState() != TaskState.TASK_STATE_NONE) {
      assertTrue(System.nanoTime() < deadline, "server still in " + s.getTaskState());
      Thread.sleep(100);
      s = get(i, id);
    }
    return s;
  }

  /** Which host (1-based) a host name is. */
  static int hostNumber(String name) {
    return Integer.parseInt(name.substring("mh-host-".length()));
  }

  /** How many operations of {@code rpc} host {@code n}'s agent started for the instance. */
  int operationsStarted(int n, String rpc, String instance) throws Exception {
    Pattern p = Pattern.compile("operation started; op=\\S+ rpc=" + rpc + " instance=" + instance
        + "\\b");
    return (int) Files.readAllLines(agents[n].log).stream().filter(l -> p.matcher(l).find())
        .count();
  }

  /** SIGKILLs conductor {@code i}. */
  void killConductor(int i) throws Exception {
    conductors[i].kill();
  }

  /** Starts conductor {@code i} again, on its port and database. */
  void restartConductor(int i) throws Exception {
    conductors[i] = new ServiceProcess("conductor-" + i + "-restart-" + (++restarts),
        "io.stratus.conductor.ConductorMain", conductorEnv[i], logs);
  }

  /** SIGKILLs gateway {@code i}. */
  void killGateway(int i) throws Exception {
    gateways[i].kill();
  }

  void restartGateway(int i) throws Exception {
    gateways[i] = new ServiceProcess("gateway-" + i + "-restart-" + (++restarts),
        "io.stratus.gateway.GatewayMain", gatewayEnv[i], logs);
  }

  /** Which gateway (0 or 1) logged that it writes image {@code imageId}, or -1. */
  int gatewayWriting(String imageId) throws Exception {
    for (int i = 0; i < 2; i++) {
      if (Files.readString(gateways[i].log).contains("upload writing into Ceph; image="
          + imageId)) {
        return i;
      }
    }
    return -1;
  }

  /** The logs of every service, for a failure message. */
  String tails() throws Exception {
    StringBuilder b = new StringBuilder();
    List<ServiceProcess> all = new ArrayList<>(List.of(conductors));
    all.addAll(List.of(gateways));
    for (int n = 1; n <= HOSTS; n++) {
      all.add(agents[n]);
    }
    for (ServiceProcess p : all) {
      if (p != null) {
        b.append("---- ").append(p.name).append('\n').append(p.tail()).append('\n');
      }
    }
    return b.toString();
  }

  @Override
  public void close() throws Exception {
    String keep = System.getenv("STRATUS_E2E_KEEP_LOGS");
    if (keep != null && !keep.isBlank() && logs != null) {
      Path to = Files.createDirectories(Path.of(keep).resolve(root.getFileName().toString()));
      try (var logFiles = Files.list(logs)) {
        for (Path f : logFiles.toList()) {
          Files.copy(f, to.resolve(f.getFileName()),
              java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    closeQuietly();
  }

  private void closeQuietly() {
    List<AutoCloseable> closers = new ArrayList<>();
    if (root != null) {
      closers.add(() -> {
        for (String name : Libvirt.virshResult("list", "--all", "--name").stdout()
            .split("\\s+")) {
          if (name.startsWith("instance-")
              && Libvirt.virshResult("dumpxml", name).stdout().contains(root.toString())) {
            Libvirt.virshResult("destroy", name);
            Libvirt.virshResult("undefine", name, "--managed-save");
          }
        }
      });
    }
    for (ManagedChannel c : conductorChannels) {
      if (c != null) {
        closers.add(c::shutdownNow);
      }
    }
    if (gatewayChannel != null) {
      closers.add(gatewayChannel::shutdownNow);
    }
    if (clientTls != null) {
      closers.add(clientTls);
    }
    for (ServiceProcess p : agents) {
      if (p != null) {
        closers.add(p);
      }
    }
    for (ServiceProcess p : conductors) {
      if (p != null) {
        closers.add(p);
      }
    }
    for (ServiceProcess p : gateways) {
      if (p != null) {
        closers.add(p);
      }
    }
    closers.add(lab);
    closers.add(ceph);
    closers.add(postgres);
    for (AutoCloseable c : closers) {
      try {
        c.close();
      } catch (Exception e) {
        System.err.println("[multi-host] clean-up step failed: " + e);
      }
    }
  }
}
