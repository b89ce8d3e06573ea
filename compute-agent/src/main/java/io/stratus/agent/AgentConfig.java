package io.stratus.agent;

import io.stratus.support.config.Settings;
import io.stratus.support.tls.TlsSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The compute-agent's configuration: immutable, explicit defaults, validated at start-up.
 *
 * @param host this compute host's name, unique among hosts (required)
 * @param listenHost bind address of the agent's gRPC server
 * @param port gRPC port (8775; 0 picks a free one)
 * @param advertiseAddress host:port the conductor dials; defaults to listenHost:port
 * @param conductorAddress the conductor's gRPC target, or its replicas as {@code
 *     host:port,host:port} (required)
 * @param gatewayAddress the image-gateway's gRPC target, or its replicas as a list (required)
 * @param libvirtUri e.g. qemu:///system, test:///default for lifecycle-only hosts, or
 *     simulator:/// for the simulated hypervisor of the control-plane benchmark
 * @param instancesDir where instance disks live (DIR/UUID/disk)
 * @param imageCacheDir where base images are cached, shared by instances
 * @param maxConcurrentSnapshots snapshots running at once; more wait (Nova's
 *     max_concurrent_snapshots)
 * @param liveSnapshots whether running guests are snapshotted live
 * @param readThreads parallel readers of disk extents
 * @param powerOnTimeout bound on waiting for a booted domain to run
 * @param shutdownRetry how often a clean shutdown request is re-sent
 * @param cephConf ceph.conf of the cluster holding RBD root disks, or {@code null}: the host
 *     then runs only local disks. qemu reads it too, so it must be readable by qemu's user
 * @param cephPool the pool of RBD root disks (Nova's images_rbd_pool)
 * @param rbdSnapshotRetry how often removing a disk snapshot that a clone still holds is
 *     tried again
 * @param orphanTimeout how long an operation runs with no conductor following it before
 *     it is cancelled and cleaned up (longer than a conductor's take-over time)
 * @param tls the CA, this host's agent certificate and key ({@code tls.*}; see
 *     {@link TlsSettings#read})
 */
public record AgentConfig(
    String host,
    String listenHost,
    int port,
    String advertiseAddress,
    String conductorAddress,
    String gatewayAddress,
    String libvirtUri,
    Path instancesDir,
    Path imageCacheDir,
    int maxConcurrentSnapshots,
    boolean liveSnapshots,
    int readThreads,
    Duration powerOnTimeout,
    Duration shutdownRetry,
    Path cephConf,
    String cephPool,
    Duration rbdSnapshotRetry,
    Duration orphanTimeout,
    TlsSettings tls,
    io.stratus.support.config.OptionalEndpoint metrics) {

  private static final String ENV_PREFIX = "STRATUS_AGENT_";

  /** File keys: host, listen.host, port, advertise.address, conductor.address,
   * gateway.address, libvirt.uri, instances.dir, image.cache.dir, snapshots.max,
   * snapshots.live, read.threads, power.on.timeout, shutdown.retry, ceph.conf, ceph.pool,
   * rbd.snapshot.retry, operation.orphan.timeout, tls.ca, tls.cert, tls.key, tls.reload, tls.insecure;
   * env STRATUS_AGENT_*. */
  public static AgentConfig load(Path file, Map<String, String> env) {
    return build(Settings.load("compute-agent", ENV_PREFIX, file, env));
  }

  public static AgentConfig fromMap(Map<String, String> values) {
    return build(Settings.of("compute-agent", ENV_PREFIX, values));
  }

  private static AgentConfig build(Settings s) {
    String host = s.required("host");
    if (host != null && !io.stratus.support.errors.Ids.isHostName(host)) {
      s.problem("host must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or"
          + " digit (it is the name in the agent's TLS certificate), got '" + host + "'");
    }
    String listenHost = s.string("listen.host", "127.0.0.1");
    int port = s.integer("port", 8775, 0, 65535);
    String advertise = s.string("advertise.address", listenHost + ":" + port);
    String conductor = s.required("conductor.address");
    String gateway = s.required("gateway.address");
    String uri = s.string("libvirt.uri", "qemu:///system");
    String instances = s.string("instances.dir", "/var/lib/stratus/instances");
    String cache = s.string("image.cache.dir", "/var/lib/stratus/images");
    int snapshots = s.integer("snapshots.max", 2, 1, 64);
    String live = s.oneOf("snapshots.live", "true", java.util.List.of("true", "false"));
    int threads = s.integer("read.threads", 4, 1, 64);
    Duration powerOn = s.duration("power.on.timeout", Duration.ofSeconds(60));
    Duration retry = s.duration("shutdown.retry", Duration.ofSeconds(10));
    String cephConf = s.string("ceph.conf", "");
    String cephPool = s.string("ceph.pool", "rbd");
    Duration rbdRetry = s.duration("rbd.snapshot.retry", Duration.ofSeconds(10));
    Duration orphan = s.duration("operation.orphan.timeout", Duration.ofMinutes(2));
    TlsSettings tls = TlsSettings.read(s);
    var metrics = io.stratus.support.config.OptionalEndpoint.read(s, "metrics", listenHost);
    s.validate();
    Path conf = null;
    if (!cephConf.isEmpty()) {
      conf = Path.of(cephConf);
      if (!conf.isAbsolute()) {
        throw new io.stratus.support.config.ConfigException("compute-agent", java.util.List.of(
            "ceph.conf must be an absolute path (qemu reads it too): " + cephConf));
      }
    }
    return new AgentConfig(host, listenHost, port, advertise, conductor, gateway, uri,
        Path.of(instances), Path.of(cache), snapshots, Boolean.parseBoolean(live), threads,
        powerOn, retry, conf, cephPool, rbdRetry, orphan, tls, metrics);
  }

  /** A copy that advertises another address (port 0 resolved after binding). */
  public AgentConfig withAdvertiseAddress(String address) {
    return new AgentConfig(host, listenHost, port, address, conductorAddress, gatewayAddress,
        libvirtUri, instancesDir, imageCacheDir, maxConcurrentSnapshots, liveSnapshots,
        readThreads, powerOnTimeout, shutdownRetry, cephConf, cephPool, rbdSnapshotRetry,
        orphanTimeout, tls, metrics);
  }
}
