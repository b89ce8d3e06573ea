package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.imageio.ImageUploader;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.DevCa;
import io.stratus.testkit.Libvirt;
import io.stratus.testkit.PostgresCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The whole system as separate processes: a private PostgreSQL cluster, the image-gateway
 * (filesystem store), the conductor and one compute-agent on the real libvirtd + qemu
 * (TCG). Tests talk to it only through the public gRPC APIs, like a user. Every channel is
 * mutual TLS with certificates from a development CA made by {@code deploy/scripts/dev-ca.sh}
 * for this run; the tests' own channels present a {@code client} certificate.
 */
final class StratusSystem implements AutoCloseable {
  static final String MEMBER = "e2e-member-token";
  static final String ADMIN = "e2e-admin-token";
  /** A member of another project. */
  static final String MEMBER_B = "e2e-member-b-token";
  static final String HOST = "e2e-host";
  /** The Keystone user of project e2e-project (a member), and its password. */
  static final String OS_USER = "e2e-os-user";
  static final String OS_PASSWORD = "e2e-os-password";
  /** A Keystone user of project other-project (a member), with the same password. */
  static final String OS_OTHER_USER = "e2e-os-other";
  /** Where the Keystone (conductor) and Glance (gateway) REST APIs listen, HTTPS. */
  final int keystonePort;
  final int glancePort;

  final PostgresCluster postgres;
  final Path root;
  ServiceProcess gateway;
  private Map<String, String> gatewayEnv;
  ServiceProcess conductor;
  ServiceProcess agent;
  private Map<String, String> agentEnv;
  private Map<String, String> conductorEnv;
  private Path logs;
  final ManagedChannel conductorChannel;
  final ManagedChannel gatewayChannel;
  /** The run's CA; tests issue more certificates from it. */
  final DevCa pki;
  /** The user's client certificate the tests' channels present. */
  final DevCa.Issued client;
  private final TransportSecurity clientTls;

  StratusSystem() throws Exception {
    this(null);
  }

  /**
   * With {@code ceph} non-null: the gateway stores images in its {@code images} pool, the
   * agent offers rbd root disks and volumes in its {@code rbd} pool, the conductor creates
   * volumes there.
   */
  StratusSystem(CephCluster ceph) throws Exception {
    this(ceph, null);
  }

  /** With {@code glance} non-null (and no Ceph): the gateway stores images in that Glance. */
  StratusSystem(CephCluster ceph, java.net.URI glance) throws Exception {
    // commits acknowledged only once written: a crash of PostgreSQL must lose none of them
    postgres = PostgresCluster.start(true);
    try {
      Libvirt.ensureRunning();
      root = Libvirt.scratchDir("e2e");
      logs = Files.createDirectories(root.resolve("logs"));
      pki = DevCa.create(root.resolve("pki"));
      client = pki.issue("client", "e2e-user");
      // fixed ports: a restarted gateway or conductor is found where the old one was
      gatewayEnv = new HashMap<>(Map.of(
          "STRATUS_GATEWAY_FS_DIR", root.resolve("store").toString(),
          "STRATUS_GATEWAY_PORT", Integer.toString(freePort())));
      gatewayEnv.putAll(tlsEnv("STRATUS_GATEWAY_", pki.issue("gateway", "gateway", "localhost",
          "127.0.0.1")));
      // the gateway asks the conductor about users' tokens: the conductor's port is fixed now
      int conductorPort = freePort();
      gatewayEnv.put("STRATUS_GATEWAY_IDENTITY_ADDRESS", "127.0.0.1:" + conductorPort);
      if (ceph != null) {
        gatewayEnv.putAll(Map.of("STRATUS_GATEWAY_BACKEND", "rbd",
            "STRATUS_GATEWAY_CEPH_CONF", ceph.conf().toString(),
            "STRATUS_GATEWAY_CEPH_POOL", ceph.imagePool()));
      }
      if (glance != null) {
        gatewayEnv.putAll(Map.of("STRATUS_GATEWAY_BACKEND", "glance",
            "STRATUS_GATEWAY_GLANCE_URL", glance.toString()));
      }
      // the OpenStack REST APIs, for OpenStack's own clients (OpenStackClientsEndToEndTest)
      glancePort = freePort();
      keystonePort = freePort();
      gatewayEnv.put("STRATUS_GATEWAY_OPENSTACK_IMAGE_PORT", Integer.toString(glancePort));
      gateway = new ServiceProcess("image-gateway", "io.stratus.gateway.GatewayMain", gatewayEnv,
          logs);
      conductorEnv = new HashMap<>(tlsEnv("STRATUS_CONDUCTOR_",
          pki.issue("conductor", "conductor", "localhost", "127.0.0.1")));
      conductorEnv.putAll(Map.of(
          "STRATUS_CONDUCTOR_DB_URL", postgres.createDatabase("e2e"),
          "STRATUS_CONDUCTOR_DB_USER", postgres.user(),
          "STRATUS_CONDUCTOR_GATEWAY_ADDRESS", gateway.address(),
          "STRATUS_CONDUCTOR_PORT", Integer.toString(conductorPort),
          "STRATUS_CONDUCTOR_HEARTBEAT_INTERVAL", "PT1S",
          "STRATUS_CONDUCTOR_POWER_SYNC_INTERVAL", "PT2S",
          "STRATUS_CONDUCTOR_VOLUMES_POOL", ceph == null ? "rbd" : ceph.diskPool(),
          "STRATUS_CONDUCTOR_API_TOKENS",
          MEMBER + "=e2e-project:e2e-user:member," + MEMBER_B + "=other-project:other-user:member,"
              + ADMIN + "=admin:root:admin"));
      // a guest that ignores ACPI (the blank test disks) is hard-rebooted after 5 s
      conductorEnv.put("STRATUS_CONDUCTOR_REBOOT_SOFT_TIMEOUT", "PT5S");
      conductorEnv.put("STRATUS_CONDUCTOR_OPENSTACK_IDENTITY_PORT",
          Integer.toString(keystonePort));
      conductorEnv.put("STRATUS_CONDUCTOR_OPENSTACK_COMPUTE_PORT", Integer.toString(freePort()));
      conductorEnv.put("STRATUS_CONDUCTOR_OPENSTACK_IMAGE_URL", "https://127.0.0.1:" + glancePort);
      conductorEnv.put("STRATUS_CONDUCTOR_OPENSTACK_USERS", OS_USER + ":e2e-project:member:"
          + OS_PASSWORD + "," + OS_OTHER_USER + ":other-project:member:" + OS_PASSWORD
          + ",root:admin:admin:" + OS_PASSWORD);
      conductor = new ServiceProcess("conductor", "io.stratus.conductor.ConductorMain",
          conductorEnv, logs);
      agentEnv = new HashMap<>(Map.of(
          "STRATUS_AGENT_HOST", HOST,
          "STRATUS_AGENT_PORT", "0",
          "STRATUS_AGENT_CONDUCTOR_ADDRESS", conductor.address(),
          "STRATUS_AGENT_GATEWAY_ADDRESS", gateway.address(),
          "STRATUS_AGENT_LIBVIRT_URI", "qemu:///system",
          "STRATUS_AGENT_INSTANCES_DIR", root.resolve("instances").toString(),
          "STRATUS_AGENT_IMAGE_CACHE_DIR", root.resolve("cache").toString()));
      agentEnv.putAll(tlsEnv("STRATUS_AGENT_", pki.issue("agent", HOST, "127.0.0.1")));
      if (ceph != null) {
        // qemu (libvirt-qemu) reads it too: a client conf in this run's directory.
        agentEnv.put("STRATUS_AGENT_CEPH_CONF", ceph.writeClientConf(root).toString());
        agentEnv.put("STRATUS_AGENT_CEPH_POOL", ceph.diskPool());
      }
      agent = new ServiceProcess("compute-agent", "io.stratus.agent.AgentMain", agentEnv, logs);
      clientTls = TransportSecurity.open(TlsSettings.of(pki.caCert(), client.cert(), client.key(),
          Duration.ofMinutes(1)), "e2e client");
      conductorChannel = NettyChannelBuilder.forTarget(conductor.address(),
          clientTls.channel(Role.CONDUCTOR)).build();
      gatewayChannel = NettyChannelBuilder.forTarget(gateway.address(),
              clientTls.channel(Role.GATEWAY))
          .maxInboundMessageSize(8 << 20).build();
      awaitHostUp();
    } catch (Exception | Error e) {
      postgres.close();
      throw e;
    }
  }

  /** The TLS settings of a service from a certificate of the run's CA. */
  Map<String, String> tlsEnv(String prefix, DevCa.Issued issued) {
    return Map.of(prefix + "TLS_CA", pki.caCert().toString(),
        prefix + "TLS_CERT", issued.cert().toString(),
        prefix + "TLS_KEY", issued.key().toString());
  }

  /** What a CLI process needs in its environment to reach this system as the test user. */
  Map<String, String> cliEnv(String token) {
    return Map.of("CONDUCTOR_ADDR", conductor.address(), "GATEWAY_ADDR", gateway.address(),
        "API_TOKEN", token, "STRATUS_CA_CERT", pki.caCert().toString(),
        "STRATUS_CLIENT_CERT", client.cert().toString(),
        "STRATUS_CLIENT_KEY", client.key().toString());
  }

  /** Runs the operator CLI in-process against the system as {@code token}: {code, out, err}. */
  String[] cli(String token, String... args) {
    var out = new java.io.ByteArrayOutputStream();
    var err = new java.io.ByteArrayOutputStream();
    String[] all = new String[args.length + 2];
    all[0] = "--token";
    all[1] = token;
    System.arraycopy(args, 0, all, 2, args.length);
    int code = io.stratus.cli.StratusCli.run(all, new java.io.PrintStream(out, true),
        new java.io.PrintStream(err, true), conductorChannel, gatewayChannel);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  /** Kills the image-gateway with SIGKILL, as a crash would. */
  void killGateway() throws Exception {
    gateway.kill();
  }

  /** Starts a new gateway process on the same port and store. */
  void restartGateway(String logName) throws Exception {
    gateway = new ServiceProcess(logName, "io.stratus.gateway.GatewayMain", gatewayEnv, logs);
  }

  /** Kills the conductor with SIGKILL: its lease stays until it expires, as in a crash. */
  void killConductor() throws Exception {
    conductor.kill();
  }

  /**
   * Starts a new conductor process on the same port and database (the agent and the
   * gateway find it where the old one was), and waits until it serves and sees the host up.
   */
  void restartConductor(String logName) throws Exception {
    conductor = new ServiceProcess(logName, "io.stratus.conductor.ConductorMain", conductorEnv,
        logs);
    awaitHostUp();
  }

  /** Kills the agent with SIGKILL (no shutdown hook runs), as a crash would. */
  void killAgent() throws Exception {
    agent.kill();
  }

  /** Starts a new agent process for the same host, and waits until it registered again. */
  void restartAgent(String logName) throws Exception {
    agent = new ServiceProcess(logName, "io.stratus.agent.AgentMain", agentEnv, logs);
    awaitHostUp();
  }

  private void awaitHostUp() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      java.util.List<io.stratus.proto.conductor.v1.Host> hosts;
      try {
        hosts = hosts(ADMIN).withWaitForReady().listHosts(ListHostsRequest.getDefaultInstance())
            .getHostsList();
      } catch (io.grpc.StatusRuntimeException e) {
        Thread.sleep(200);  // a conductor that is (re)starting
        continue;
      }
      if (hosts.stream().anyMatch(h -> h.getName().equals(HOST) && h.getStatus() == HostStatus.HOST_STATUS_UP
          && h.getAddress().equals(agent.address()))) {
        return;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("the agent never registered:\n" + agent.tail());
  }

  static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return m;
  }

  ServersGrpc.ServersBlockingStub servers(String token) {
    return ServersGrpc.newBlockingStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  ServersGrpc.ServersStub serversAsync(String token) {
    return ServersGrpc.newStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  HostsGrpc.HostsBlockingStub hosts(String token) {
    return HostsGrpc.newBlockingStub(conductorChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** The gateway as the e2e project's member (client certificate and token). */
  ImagesGrpc.ImagesBlockingStub images() {
    return images(MEMBER);
  }

  /** The gateway as the user of {@code token}. */
  ImagesGrpc.ImagesBlockingStub images(String token) {
    return ImagesGrpc.newBlockingStub(gatewayChannel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  private static int freePort() throws java.io.IOException {
    try (var socket = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Uploads an active raw base image: {@code size} bytes, random data in the first half. */
  String seedBaseImage(long size) throws Exception {
    return seedBaseImage(gatewayChannel, MEMBER, "e2e-project", "e2e-base", size);
  }

  /**
   * Uploads an active raw base image through {@code gateway} as {@code token}'s user, for
   * {@code owner}: {@code size} bytes, random data in the first half.
   */
  static String seedBaseImage(io.grpc.Channel gateway, String token, String owner, String name,
      long size) throws Exception {
    io.grpc.Channel authed = io.grpc.ClientInterceptors.intercept(gateway,
        MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
    String id = ImagesGrpc.newBlockingStub(authed).withDeadlineAfter(120, TimeUnit.SECONDS)
        .createImage(CreateImageRequest.newBuilder().setName(name).setDiskFormat("raw")
            .setContainerFormat("bare").setOwner(owner).build())
        .getImage().getId();
    try (ImageUploader out = ImageUploader.start(authed, id, "seed", size, 0)) {
      Random random = new Random(size);
      for (long off = 0; off < size / 2; off += 1 << 20) {
        byte[] b = new byte[1 << 20];
        random.nextBytes(b);
        out.data(off, java.nio.ByteBuffer.wrap(b));
      }
      out.finish(Duration.ofSeconds(120));
    }
    return id;
  }

  /** Boots a server with 128 MiB and waits until it is active. */
  Server boot(String name, String imageRef) throws Exception {
    return boot(name, imageRef, 128);
  }

  /** Boots a server with {@code memoryMb} and waits until it is active. */
  Server boot(String name, String imageRef, int memoryMb) throws Exception {
    String id = servers(MEMBER).createServer(CreateServerRequest.newBuilder().setName(name)
        .setImageRef(imageRef).setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(memoryMb))
        .build()).getServer().getId();
    return awaitIdle(id, Duration.ofSeconds(120));
  }

  /** The server's console log, as the agent keeps it in the instance's directory. */
  Path consoleLog(String serverId) {
    return root.resolve("instances").resolve(serverId).resolve("console.log");
  }

  Server get(String id) {
    return servers(ADMIN).getServer(GetServerRequest.newBuilder().setServerId(id).build()).getServer();
  }

  /** Waits until the server has no task in flight. */
  Server awaitIdle(String id, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Server s = get(id);
    while (s.getTaskState() != TaskState.TASK_STATE_NONE) {
      assertTrue(System.nanoTime() < deadline, "server still in " + s.getTaskState() + ":\n"
          + conductor.tail() + "\n" + agent.tail());
      Thread.sleep(100);
      s = get(id);
    }
    return s;
  }

  Path disk(String serverId) {
    return root.resolve("instances").resolve(serverId).resolve("disk");
  }

  static String domain(String serverId) {
    return "instance-" + serverId;
  }

  /** Writes a byte pattern into the guest-visible disk through the running qemu. */
  static void guestWrite(String serverId, int pattern, long offset, long length) {
    String out = Libvirt.virsh("qemu-monitor-command", domain(serverId), "--hmp",
        "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -P 0x"
            + Integer.toHexString(pattern) + " " + offset + " " + length + "\"");
    assertTrue(!out.contains("Error"), out);
  }

  static String domstate(String serverId) {
    return Libvirt.virsh("domstate", domain(serverId)).strip();
  }

  /**
   * Whether two disks (any formats) show the guest the same content, by {@code qemu-img
   * compare}: it skips what is unallocated in both, so an 8 GiB disk with little data is
   * compared in a moment. Returns qemu-img's answer; exit 0 means identical.
   */
  static String compareGuestContent(Path a, Path b) throws Exception {
    Process p = new ProcessBuilder("qemu-img", "compare", "-U", a.toString(), b.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "qemu-img compare did not finish");
    return p.exitValue() == 0 ? "identical" : "exit " + p.exitValue() + ": " + out.strip();
  }

  /** sha512 of a disk's guest-visible content (any format), via qemu-img convert. */
  String guestContentSha512(Path disk) throws Exception {
    Path raw = root.resolve("content-" + System.nanoTime() + ".raw");
    try {
      Process p = new ProcessBuilder("qemu-img", "convert", "-U", "-O", "raw", disk.toString(),
          raw.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, out);
      MessageDigest d = MessageDigest.getInstance("SHA-512");
      try (var in = Files.newInputStream(raw)) {
        byte[] b = new byte[1 << 20];
        int n;
        while ((n = in.read(b)) > 0) {
          d.update(b, 0, n);
        }
      }
      return HexFormat.of().formatHex(d.digest());
    } finally {
      Files.deleteIfExists(raw);
    }
  }

  @Override
  public void close() throws Exception {
    String keep = System.getenv("STRATUS_E2E_KEEP_LOGS");
    if (keep != null && !keep.isBlank()) {
      // a copy of every service's log, for a run being debugged
      Path to = Files.createDirectories(Path.of(keep).resolve(root.getFileName().toString()));
      try (var logFiles = Files.list(logs)) {
        for (Path f : logFiles.toList()) {
          Files.copy(f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
    // Every domain whose disk (or, for rbd disks, Ceph client conf) lives under this run's
    // directory, however its server was created, and only those: another run's guests are
    // not ours to touch.
    for (String name : Libvirt.virshResult("list", "--all", "--name").stdout().split("\\s+")) {
      if (name.startsWith("instance-")
          && Libvirt.virshResult("dumpxml", name).stdout().contains(root.toString())) {
        Libvirt.virshResult("destroy", name);
        Libvirt.virshResult("undefine", name, "--managed-save");
      }
    }
    conductorChannel.shutdownNow();
    gatewayChannel.shutdownNow();
    clientTls.close();
    agent.close();
    conductor.close();
    gateway.close();
    postgres.close();
  }
}
