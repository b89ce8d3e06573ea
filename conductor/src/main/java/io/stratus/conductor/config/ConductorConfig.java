package io.stratus.conductor.config;

import io.stratus.support.tls.TlsSettings;
import java.time.Duration;
import java.util.Map;

/**
 * The conductor's configuration: immutable, with explicit defaults, validated once at
 * start-up by {@link ConfigLoader}.
 *
 * @param listenHost address the gRPC server binds ({@code 127.0.0.1} by default)
 * @param port gRPC port; 0 picks a free one
 * @param dbUrl JDBC URL of the PostgreSQL database (required)
 * @param dbUser database user (required)
 * @param dbPassword database password (may be empty)
 * @param dbPoolSize connection pool size
 * @param gatewayAddress image-gateway gRPC target, host:port, or its replicas host:port,host:port (required)
 * @param heartbeatInterval how often agents beat
 * @param missedHeartbeats beats missed before a host counts as down
 * @param agentCallTimeout deadline of one agent task call
 * @param maxImageProperties quota of metadata properties on a snapshot image (Nova: 128)
 * @param apiTokens bearer token → caller
 * @param volumesPool the Ceph pool new volumes are created in (Cinder's rbd_pool)
 * @param volumeBackedSnapshotRole who may snapshot volume-backed servers (policy
 *     create_image:allow_volume_backed): {@code member} (any caller on its own servers)
 *     or {@code admin}
 * @param tls the CA, the conductor's certificate and key ({@code tls.*}): the public API
 *     and the agent registry are served over TLS, agents and the gateway are called with
 *     this certificate
 * @param watchesPerProject open WatchServer/WatchEvents streams one project may hold
 *     ({@code api.watch.max.per.project}, 64)
 * @param agentReattachWindow how long a task whose agent stream broke keeps trying to
 *     re-attach to the agent's operation before it is failed and cleaned up ({@code
 *     agent.reattach.window}, PT2M, the agent's own orphan timeout)
 * @param powerSyncInterval how often every up host's guests are compared with the
 *     database, Nova's sync_power_state_interval ({@code power.sync.interval}, PT10M)
 * @param snapshotGcAfter how old an unfinished snapshot image that no task fills, or the
 *     volume snapshots of an image that is gone, must be before they are collected
 *     ({@code gc.unfinished.after}, PT15M)
 * @param openstack the OpenStack REST APIs ({@code openstack.*}, off by default)
 * @param softRebootTimeout how long a guest has to shut down cleanly in a SOFT reboot
 *     before it is hard-rebooted ({@code reboot.soft.timeout}, PT120S, Nova's
 *     wait_soft_reboot_seconds)
 */
public record ConductorConfig(
    String listenHost,
    int port,
    String dbUrl,
    String dbUser,
    String dbPassword,
    int dbPoolSize,
    String gatewayAddress,
    Duration heartbeatInterval,
    int missedHeartbeats,
    Duration agentCallTimeout,
    int maxImageProperties,
    Map<String, ApiToken> apiTokens,
    String volumesPool,
    ApiToken.Role volumeBackedSnapshotRole,
    TlsSettings tls,
    int watchesPerProject,
    Duration agentReattachWindow,
    Duration powerSyncInterval,
    Duration snapshotGcAfter,
    io.stratus.support.config.OptionalEndpoint health,
    io.stratus.support.config.OptionalEndpoint metrics,
    OpenStackSettings openstack,
    Duration softRebootTimeout) {

  public static final String DEFAULT_LISTEN_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8774;
  public static final int DEFAULT_DB_POOL_SIZE = 10;
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(10);
  public static final int DEFAULT_MISSED_HEARTBEATS = 3;
  public static final Duration DEFAULT_AGENT_CALL_TIMEOUT = Duration.ofHours(6);
  public static final int DEFAULT_MAX_IMAGE_PROPERTIES = 128;

  public ConductorConfig {
    apiTokens = Map.copyOf(apiTokens);
  }

  /** How long a host may stay silent before it counts as down. */
  public Duration hostDownAfter() {
    return heartbeatInterval.multipliedBy(missedHeartbeats);
  }

  /** A copy with another port (tests, port 0). */
  public ConductorConfig withPort(int newPort) {
    return new ConductorConfig(
        listenHost, newPort, dbUrl, dbUser, dbPassword, dbPoolSize, gatewayAddress,
        heartbeatInterval, missedHeartbeats, agentCallTimeout, maxImageProperties, apiTokens,
        volumesPool, volumeBackedSnapshotRole, tls, watchesPerProject, agentReattachWindow,
        powerSyncInterval, snapshotGcAfter, health, metrics, openstack, softRebootTimeout);
  }

  @Override
  public String toString() {
    // Never print secrets.
    return "ConductorConfig[listen=" + listenHost + ":" + port + ", db=" + dbUrl
        + ", dbUser=" + dbUser + ", pool=" + dbPoolSize + ", gateway=" + gatewayAddress
        + ", heartbeat=" + heartbeatInterval + " x" + missedHeartbeats
        + ", tokens=" + apiTokens.size() + ", tls=" + (tls.insecure() ? "OFF" : tls.cert()) + "]";
  }
}
