package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetHostRequest;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.DevCa;
import io.stratus.testkit.PostgresCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The control plane at scale (issue 17), a benchmark and not a timed test: the real
 * conductor (its own JVM, 1 GiB heap), gateway and PostgreSQL, with {@code AGENTS} real
 * agents on the simulated hypervisor ({@code simulator:///}, in one JVM: {@link
 * AgentFleetMain}) and, for the scale
 * phase, {@code SIM_HOSTS} simulated hosts heartbeating ({@link SimulatedHosts}). In the
 * same run, {@code pgbench -N} on the same PostgreSQL gives the yardstick. Writes
 * docs/benchmarks/control-plane.md with its plots.
 *
 * <pre>
 *   deploy/bench.sh ControlPlaneBenchmark
 *   STRATUS_BENCH_SIM_HOSTS=500 STRATUS_BENCH_SECONDS=10 deploy/bench.sh ControlPlaneBenchmark
 * </pre>
 */
@Tag("benchmark")
class ControlPlaneBenchmark {
  private static final String MEMBER = "cp-member";
  private static final String ADMIN = "cp-admin";
  private static final int AGENTS = Integer.parseInt(BenchTools.env("STRATUS_BENCH_AGENTS", "10"));
  private static final int SIM_HOSTS =
      Integer.parseInt(BenchTools.env("STRATUS_BENCH_SIM_HOSTS", "5000"));
  private static final int SECONDS = Integer.parseInt(BenchTools.env("STRATUS_BENCH_SECONDS", "30"));
  /**
   * The agents' niceness. In a deployment they and their snapshots run on compute hosts, not
   * on the conductor's cores; here all share two cores, so by default the agents' JVM (and
   * its qemu-img children) run at nice 10 and the control plane gets the cores first. 0
   * measures them at the same priority.
   */
  private static final int AGENT_NICE =
      Integer.parseInt(BenchTools.env("STRATUS_BENCH_AGENT_NICE", "10"));
  private static final int[] LEVELS = {1, 16, 64, 256};
  private static final Duration HEARTBEAT = Duration.ofSeconds(10);
  private static final int MISSED = 2;

  private final ControlPlaneReport report = new ControlPlaneReport();
  /** The benchmark's own connection to the conductor's database, for its readings. */
  private java.sql.Connection db;
  private ManagedChannel conductor;
  private int metricsPort;
  private final CpuMeter cpu = new CpuMeter();

  @Test
  void controlPlaneAtScale() throws Exception {
    try (PostgresCluster pg = PostgresCluster.start(true)) {
      report.pgbenchTps = pgbench(pg);
      Path root = Files.createTempDirectory(Path.of("/var/lib/stratus-test"), "control-plane");
      // the services' logs outlive the run (the rest is removed): where to look on a failure
      Path logs = Files.createTempDirectory("stratus-control-plane-logs-");
      System.out.println("[bench] control-plane: service logs in " + logs);
      DevCa pki = DevCa.create(root.resolve("pki"));
      List<ServiceProcess> services = new ArrayList<>();
      try {
        run(pg, root, logs, pki, services);
      } finally {
        for (int i = services.size() - 1; i >= 0; i--) {
          services.get(i).close();
        }
        if (conductor != null) {
          conductor.shutdownNow();
        }
        BenchTools.sh("rm", "-rf", root.toString());
      }
    }
    report.agentNice = AGENT_NICE;
    report.write(BenchTools.reportDir(), AGENTS, SIM_HOSTS, SECONDS, HEARTBEAT, MISSED);
  }

  private void run(PostgresCluster pg, Path root, Path logs, DevCa pki,
      List<ServiceProcess> services) throws Exception {
    int conductorPort = freePort();
    metricsPort = freePort();
    Map<String, String> gw = new HashMap<>(tls(pki, "STRATUS_GATEWAY_",
        pki.issue("gateway", "gateway", "127.0.0.1")));
    gw.putAll(Map.of("STRATUS_GATEWAY_FS_DIR", root.resolve("store").toString(),
        "STRATUS_GATEWAY_PORT", "0",
        "STRATUS_GATEWAY_IDENTITY_ADDRESS", "127.0.0.1:" + conductorPort));
    ServiceProcess gateway = new ServiceProcess("gateway", "io.stratus.gateway.GatewayMain", gw,
        logs);
    services.add(gateway);
    Map<String, String> c = new HashMap<>(tls(pki, "STRATUS_CONDUCTOR_",
        pki.issue("conductor", "conductor", "127.0.0.1")));
    c.putAll(Map.of("STRATUS_CONDUCTOR_DB_URL", pg.createDatabase("cp"),
        "STRATUS_CONDUCTOR_DB_USER", pg.user(),
        "STRATUS_CONDUCTOR_GATEWAY_ADDRESS", gateway.address(),
        "STRATUS_CONDUCTOR_PORT", Integer.toString(conductorPort),
        "STRATUS_CONDUCTOR_HEARTBEAT_INTERVAL", HEARTBEAT.toString(),
        "STRATUS_CONDUCTOR_HEARTBEAT_MISSED", Integer.toString(MISSED),
        "STRATUS_CONDUCTOR_METRICS_PORT", Integer.toString(metricsPort),
        // every client waits on its server's watch: 256 in one project (default 64)
        "STRATUS_CONDUCTOR_API_WATCH_MAX_PER_PROJECT", "512",
        "STRATUS_CONDUCTOR_API_TOKENS",
        MEMBER + "=cp-project:cp-user:member," + ADMIN + "=admin:root:admin"));
    String dbUrl = c.get("STRATUS_CONDUCTOR_DB_URL");
    ServiceProcess conductorProcess = new ServiceProcess("conductor",
        "io.stratus.conductor.ConductorMain", c, logs, List.of(),
        List.of("-Xmx1g", "-XX:+UseG1GC"));
    services.add(conductorProcess);
    // the hosts' agents: real compute-agents on the simulated hypervisor, in one JVM
    List<String> hostNames = new ArrayList<>();
    Path certDir = null;
    for (int n = 0; n < AGENTS; n++) {
      String host = String.format("bench-host-%02d", n);
      hostNames.add(host);
      certDir = pki.issue("agent", host, "127.0.0.1").cert().getParent();
    }
    Map<String, String> fleetEnv = new HashMap<>(Map.of(
        "FLEET_HOSTS", String.join(",", hostNames),
        "STRATUS_AGENT_TLS_CA", pki.caCert().toString(),
        "STRATUS_AGENT_TLS_CERT", certDir.resolve("{host}.pem").toString(),
        "STRATUS_AGENT_TLS_KEY", certDir.resolve("{host}.key").toString(),
        "STRATUS_AGENT_CONDUCTOR_ADDRESS", conductorProcess.address(),
        "STRATUS_AGENT_GATEWAY_ADDRESS", gateway.address(),
        "STRATUS_AGENT_INSTANCES_DIR", root.resolve("{host}").resolve("instances").toString(),
        "STRATUS_AGENT_IMAGE_CACHE_DIR", root.resolve("{host}").resolve("cache").toString(),
        "STRATUS_AGENT_SNAPSHOTS_MAX", "64"));
    ServiceProcess fleet = new ServiceProcess("agents", "io.stratus.e2e.AgentFleetMain", fleetEnv,
        logs, AGENT_NICE == 0 ? List.of() : List.of("nice", "-n", Integer.toString(AGENT_NICE)));
    services.add(fleet);
    List<String> agentAddresses = fleetAddresses(fleet, AGENTS);
    cpu.group("conductor", () -> List.of(conductorProcess.pid()))
        .group("gateway", () -> List.of(gateway.pid()))
        .group("agents (one JVM, with their qemu-img)", () -> List.of(fleet.pid()))
        .group("postgres", () -> CpuMeter.byCommand("postgres"))
        .group("benchmark clients and simulated hosts",
            () -> List.of(ProcessHandle.current().pid()));
    DevCa.Issued client = pki.issue("client", "cp-user");
    TransportSecurity clientTls = TransportSecurity.open(TlsSettings.of(pki.caCert(),
        client.cert(), client.key(), Duration.ofHours(1)), "benchmark client");
    conductor = NettyChannelBuilder.forTarget(conductorProcess.address(),
        clientTls.channel(Role.CONDUCTOR)).build();
    ManagedChannel gatewayChannel = NettyChannelBuilder.forTarget(gateway.address(),
        clientTls.channel(Role.GATEWAY)).maxInboundMessageSize(8 << 20).build();
    try {
      db = DriverManager.getConnection(dbUrl, pg.user(), pg.password());
      awaitHostsUp(AGENTS);
      String base = StratusSystem.seedBaseImage(gatewayChannel, MEMBER, "cp-project", "cp-base",
          1 << 20);
      int most = LEVELS[LEVELS.length - 1];
      List<String> servers = boot(base, most);
      List<ServerWaiter> waiters = new ArrayList<>();
      for (String id : servers) {
        waiters.add(new ServerWaiter(serversAsync(), id));
      }
      try {
        CpuMeter.Reading r0 = cpu.read();
        transitions(servers, waiters, 64);
        CpuMeter.Reading r1 = cpu.read();
        report.cpu.put("stop/start, 64 clients", CpuMeter.between(r0, r1));
        for (int level : LEVELS) {
          CpuMeter.Reading a = cpu.read();
          report.createImage10.put(level, createImages(servers, waiters, level,
              level + " clients, " + AGENTS + " hosts"));
          report.cpu.put("CreateImage, " + level + " clients, " + AGENTS + " hosts",
              CpuMeter.between(a, cpu.read()));
        }
        try (SimulatedHosts sims = new SimulatedHosts(pki, conductorProcess.address(),
            SIM_HOSTS, agentAddresses)) {
          sims.start(HEARTBEAT);
          Thread.sleep(HEARTBEAT.toMillis() + 2000);  // a first beat from every host
          sims.drainAcks();
          scale(sims, servers, waiters, dbUrl, pg);
        }
      } finally {
        waiters.forEach(ServerWaiter::close);
      }
    } finally {
      if (db != null) {
        db.close();
      }
      gatewayChannel.shutdownNow();
      clientTls.close();
    }
  }

  // ------------------------------------------------------------------ phases

  /** Stop/start cycles on {@code clients} servers: persisted task transitions per second. */
  private void transitions(List<String> servers, List<ServerWaiter> waiters, int clients)
      throws Exception {
    double before = conductorMetric("stratus_task_transitions_total");
    long t0 = System.nanoTime();
    long until = t0 + TimeUnit.SECONDS.toNanos(SECONDS);
    List<Double> ops = runClients(clients, i -> {
      String id = servers.get(i);
      ServerWaiter w = waiters.get(i);
      List<Double> lat = new ArrayList<>();
      while (System.nanoTime() < until) {
        for (boolean stop : new boolean[] {true, false}) {
          w.clear();
          long s = System.nanoTime();
          if (stop) {
            servers().stopServer(StopServerRequest.newBuilder().setServerId(id).build());
          } else {
            servers().startServer(StartServerRequest.newBuilder().setServerId(id).build());
          }
          assertTrue(w.awaitIdle(Duration.ofSeconds(60)), "no end of task on " + id);
          lat.add((System.nanoTime() - s) / 1e6);
        }
      }
      return lat;
    });
    double seconds = (System.nanoTime() - t0) / 1e9;
    double transitions = conductorMetric("stratus_task_transitions_total") - before;
    report.transitionsPerSecond = transitions / seconds;
    report.powerOps = ops.size();
    report.powerOpMillis = Percentiles.of(ops);
    System.out.printf("[bench] control-plane: %.0f task transitions/s (%d power operations in"
        + " %.1f s, %d clients); pgbench -N %.0f tps%n", report.transitionsPerSecond,
        ops.size(), seconds, clients, report.pgbenchTps);
  }

  /**
   * CreateImage by {@code clients} clients, each on its own server: the call's latency, and
   * what became of the snapshots the calls started ({@link #snapshotOutcomes}).
   */
  private Percentiles createImages(List<String> servers, List<ServerWaiter> waiters,
      int clients, String phase) throws Exception {
    java.sql.Timestamp since;
    try (var st = db.createStatement(); var rs = st.executeQuery("SELECT now()")) {
      rs.next();
      since = rs.getTimestamp(1);
    }
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
    List<Double> latencies = runClients(clients, i -> {
      String id = servers.get(i);
      ServerWaiter w = waiters.get(i);
      List<Double> lat = new ArrayList<>();
      while (System.nanoTime() < until) {
        w.clear();
        long s = System.nanoTime();
        servers().createImage(CreateImageRequest.newBuilder().setServerId(id)
            .setName("cp-snap").build());
        lat.add((System.nanoTime() - s) / 1e6);
        assertTrue(w.awaitIdle(Duration.ofSeconds(300)), "snapshot of " + id + " never ended");
      }
      return lat;
    });
    Percentiles p = Percentiles.of(latencies);
    String outcomes = snapshotOutcomes(since);
    report.snapshotOutcomes.put(phase, outcomes);
    System.out.printf("[bench] control-plane: CreateImage at %d clients: %s; snapshots: %s%n",
        clients, p, outcomes);
    return p;
  }

  /**
   * The snapshots started since {@code since}: completed, refused by the gateway's upload
   * limits ({@code uploads.max}, {@code uploads.max.per.project}: deployed defaults, so
   * part of what a client sees), or failed otherwise. A refused snapshot ends quickly and
   * its client asks again, so the mix says how much data-path work the phase carried.
   */
  private String snapshotOutcomes(java.sql.Timestamp since) throws java.sql.SQLException {
    try (var ps = db.prepareStatement("SELECT count(*) FILTER (WHERE finish_time IS NOT NULL"
        + " AND message IS NULL), count(*) FILTER (WHERE message LIKE '%uploads.max%'),"
        + " count(*) FILTER (WHERE message IS NOT NULL AND message NOT LIKE '%uploads.max%')"
        + " FROM instance_actions WHERE action = 'createImage' AND start_time >= ?")) {
      ps.setTimestamp(1, since);
      try (var rs = ps.executeQuery()) {
        rs.next();
        return String.format("%d completed, %d refused by the gateway's upload limits,"
            + " %d failed otherwise", rs.getLong(1), rs.getLong(2), rs.getLong(3));
      }
    }
  }

  /** With every simulated host beating: heap, beat lag, a silent host, API latency. */
  private void scale(SimulatedHosts sims, List<String> servers, List<ServerWaiter> waiters,
      String dbUrl, PostgresCluster pg) throws Exception {
    awaitHostsUp(AGENTS + SIM_HOSTS);
    // two samplers, so a slow scrape of the conductor's metrics never delays the other
    var sampler = Executors.newScheduledThreadPool(2);
    long t0 = System.nanoTime();
    var sampleDb = DriverManager.getConnection(dbUrl, pg.user(), pg.password());
    sampler.scheduleAtFixedRate(() -> {
      try (var st = sampleDb.createStatement();
          var rs = st.executeQuery("SELECT extract(epoch FROM max(clock_timestamp()"
              + " - last_heartbeat_at)) FROM hosts")) {
        rs.next();
        report.samples.add(new ControlPlaneReport.Sample((System.nanoTime() - t0) / 1e9,
            Double.NaN, rs.getDouble(1)));
      } catch (java.sql.SQLException e) {
        System.out.println("[bench] control-plane: staleness sample failed: " + e);
      }
    }, 0, 1, TimeUnit.SECONDS);
    sampler.scheduleWithFixedDelay(() -> {
      try {
        double heap = conductorMetric("jvm_memory_used_bytes", "area=\"heap\"");
        report.samples.add(new ControlPlaneReport.Sample((System.nanoTime() - t0) / 1e9, heap,
            Double.NaN));
      } catch (Exception e) {
        System.out.println("[bench] control-plane: heap sample failed: " + e);
      }
    }, 0, 2, TimeUnit.SECONDS);
    try {
      CpuMeter.Reading a = cpu.read();
      report.createImageScaled = createImages(servers, waiters, 64,
          "64 clients, " + (AGENTS + SIM_HOSTS) + " hosts");
      report.cpu.put("CreateImage, 64 clients, " + (AGENTS + SIM_HOSTS) + " hosts",
          CpuMeter.between(a, cpu.read()));
      report.heartbeatAckUnderLoad = Percentiles.of(sims.drainAcks());
      report.loadEndSeconds = (System.nanoTime() - t0) / 1e9;
      // a quiet interval more, then stop sampling: the silent host below is stale on purpose
      Thread.sleep(HEARTBEAT.toMillis());
      sampler.shutdownNow();
      sampler.awaitTermination(10, TimeUnit.SECONDS);
      // a host goes silent: how long until the conductor calls it down
      SimulatedHosts.Host silent = sims.hosts.get(sims.hosts.size() / 2);
      long lastAck = silent.lastAckNanos;
      silent.silence();
      long silenced = System.nanoTime();
      var hosts = HostsGrpc.newBlockingStub(conductor).withInterceptors(
          MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(ADMIN)));
      while (hosts.withDeadlineAfter(10, TimeUnit.SECONDS).getHost(GetHostRequest.newBuilder()
          .setName(silent.name).build()).getHost().getStatus() != HostStatus.HOST_STATUS_DOWN) {
        assertTrue(System.nanoTime() - lastAck < TimeUnit.MINUTES.toNanos(5), "never down");
        Thread.sleep(100);
      }
      long down = System.nanoTime();
      report.silentDownSeconds = (down - silenced) / 1e9;
      report.silentDownSinceLastBeat = (down - lastAck) / 1e9;
      System.out.printf("[bench] control-plane: a silent host is down %.1f s after it went"
          + " silent, %.1f s after its last beat%n", report.silentDownSeconds,
          report.silentDownSinceLastBeat);
      report.heartbeatAckMillis = Percentiles.of(sims.drainAcks());  // the quiet part
      report.simErrors = sims.errors.size();
    } finally {
      sampler.shutdownNow();
      sampleDb.close();
    }
    report.liveHeapAfterGc = conductorMetric("jvm_gc_live_data_size_bytes");
    report.heapMax = conductorMetric("jvm_memory_max_bytes", "area=\"heap\"");
  }

  // ------------------------------------------------------------------ helpers

  private interface ClientBody {
    List<Double> run(int index) throws Exception;
  }

  private static List<Double> runClients(int clients, ClientBody body) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try {
      List<Future<List<Double>>> futures = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        int index = i;
        futures.add(pool.submit(() -> body.run(index)));
      }
      List<Double> all = new ArrayList<>();
      for (var f : futures) {
        all.addAll(f.get(30, TimeUnit.MINUTES));
      }
      return all;
    } finally {
      pool.shutdownNow();
    }
  }

  private ServersGrpc.ServersBlockingStub servers() {
    return ServersGrpc.newBlockingStub(conductor)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(MEMBER)))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private ServersGrpc.ServersStub serversAsync() {
    return ServersGrpc.newStub(conductor)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(MEMBER)));
  }

  /** Boots {@code count} servers, 16 at a time; their ids. */
  private List<String> boot(String base, int count) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ids.add(servers().createServer(CreateServerRequest.newBuilder().setName("cp-" + i)
          .setImageRef(base).setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(64))
          .build()).getServer().getId());
      if (i % 16 == 15) {
        awaitActive(ids.subList(i - 15, i + 1));
      }
    }
    awaitActive(ids);
    return ids;
  }

  private void awaitActive(List<String> ids) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    for (String id : ids) {
      while (true) {
        var s = servers().getServer(GetServerRequest.newBuilder().setServerId(id).build())
            .getServer();
        if (s.getTaskState() == TaskState.TASK_STATE_NONE) {
          assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), s.toString());
          break;
        }
        assertTrue(System.nanoTime() < deadline, "boot of " + id + " never ended");
        Thread.sleep(50);
      }
    }
  }

  private void awaitHostsUp(int count) throws Exception {
    var hosts = HostsGrpc.newBlockingStub(conductor).withInterceptors(
        MetadataUtils.newAttachHeadersInterceptor(StratusSystem.bearer(ADMIN)));
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (true) {
      try {
        long up = hosts.withWaitForReady().withDeadlineAfter(60, TimeUnit.SECONDS)
            .listHosts(io.stratus.proto.conductor.v1.ListHostsRequest.getDefaultInstance())
            .getHostsList().stream().filter(h -> h.getStatus() == HostStatus.HOST_STATUS_UP)
            .count();
        if (up >= count) {
          return;
        }
      } catch (io.grpc.StatusRuntimeException e) {
        // starting
      }
      assertTrue(System.nanoTime() < deadline, "fewer than " + count + " hosts up");
      Thread.sleep(500);
    }
  }

  /** Sum of a metric's series on the conductor's /metrics (optionally those with a label). */
  private double conductorMetric(String name, String... labels) throws Exception {
    String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? (\\S+)$")
        .matcher(text);
    double sum = 0;
    while (m.find()) {
      String tags = m.group(1) == null ? "" : m.group(1);
      boolean wanted = true;
      for (String l : labels) {
        wanted &= tags.contains(l);
      }
      if (wanted) {
        sum += Double.parseDouble(m.group(2));
      }
    }
    return sum;
  }

  /** The addresses the fleet's {@code count} agents listen on, from its log. */
  private static List<String> fleetAddresses(ServiceProcess fleet, int count) throws Exception {
    Pattern listening = Pattern.compile("listening on (\\S+:\\d+)");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (true) {
      List<String> found = new ArrayList<>();
      Matcher m = listening.matcher(Files.readString(fleet.log));
      while (m.find()) {
        found.add(m.group(1));
      }
      if (found.size() >= count) {
        return found;
      }
      assertTrue(fleet.alive() && System.nanoTime() < deadline, "the agents did not start:\n"
          + fleet.tail());
      Thread.sleep(100);
    }
  }

  /** pgbench -N on its own database of the same cluster: transactions per second. */
  private static double pgbench(PostgresCluster pg) throws Exception {
    String url = pg.createDatabase("pgbench");
    String db = url.substring(url.lastIndexOf('/') + 1).replaceAll("\\?.*", "");
    String bin = System.getenv().getOrDefault("STRATUS_PG_BIN", "/usr/lib/postgresql/15/bin");
    List<String> conn = List.of("-h", pg.host(), "-p", Integer.toString(pg.port()), "-U",
        pg.user());
    List<String> init = new ArrayList<>(List.of(bin + "/pgbench", "-i", "-q", "-s", "10"));
    init.addAll(conn);
    init.add(db);
    exec(init);
    List<String> run = new ArrayList<>(List.of(bin + "/pgbench", "-N", "-c", "32", "-j", "2",
        "-T", Integer.toString(SECONDS)));
    run.addAll(conn);
    run.add(db);
    String out = exec(run);
    Matcher m = Pattern.compile("tps = ([0-9.]+) \\(without initial connection time\\)")
        .matcher(out);
    assertTrue(m.find(), out);
    double tps = Double.parseDouble(m.group(1));
    System.out.printf("[bench] control-plane: pgbench -N -c 32 -j 2 -T %d: %.0f tps%n",
        SECONDS, tps);
    return tps;
  }

  private static String exec(List<String> cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(10, TimeUnit.MINUTES) && p.exitValue() == 0, cmd + ": " + out);
    return out;
  }

  private static Map<String, String> tls(DevCa pki, String prefix, DevCa.Issued issued) {
    return Map.of(prefix + "TLS_CA", pki.caCert().toString(),
        prefix + "TLS_CERT", issued.cert().toString(),
        prefix + "TLS_KEY", issued.key().toString());
  }

  private static int freePort() throws java.io.IOException {
    try (var socket = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
