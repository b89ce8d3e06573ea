package io.stratus.conductor.hosts;

import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.DbClock;
import io.stratus.support.errors.Ids;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.HeartbeatWriter;
import io.stratus.conductor.db.HostStore;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.support.errors.ApiException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compute hosts: agents register and heartbeat; a host is up while its last beat is
 * younger than {@code heartbeatInterval × missedHeartbeats}. Liveness is computed from the
 * stored beat, so every conductor on the database agrees.
 */
public final class HostRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(HostRegistry.class);

  /** The contract version this conductor speaks to agents. */
  public static final String AGENT_CONTRACT = "stratus.agent.v1";

  /** What an agent says about itself when it registers. */
  public record Registration(
      String host,
      String address,
      String agentVersion,
      List<String> contractVersions,
      String hypervisor,
      List<String> storageKinds,
      boolean liveSnapshot,
      boolean rbdDirectSnapshot,
      boolean quiesce) {}

  private final Database db;
  private final HostStore hosts;
  private final InstanceStore instances;
  private final Duration heartbeatInterval;
  private final Duration downAfter;
  private final HeartbeatWriter heartbeats;

  public HostRegistry(
      Database db,
      HostStore hosts,
      InstanceStore instances,
      HeartbeatWriter heartbeats,
      Duration heartbeatInterval,
      int missedHeartbeats) {
    this.heartbeats = heartbeats;
    this.db = db;
    this.hosts = hosts;
    this.instances = instances;
    this.heartbeatInterval = heartbeatInterval;
    this.downAfter = heartbeatInterval.multipliedBy(missedHeartbeats);
  }

  public Duration heartbeatInterval() {
    return heartbeatInterval;
  }

  private final List<java.util.function.Consumer<String>> registered =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Calls {@code listener} with the host's name after every (re)registration. */
  public void onRegistered(java.util.function.Consumer<String> listener) {
    registered.add(listener);
  }

  /** Registers or re-registers a host; returns the stored record. */
  public HostEntity register(Registration r) {
    Ids.hostName("host", r.host());
    if (r.address() == null || r.address().isBlank()) {
      throw ApiException.invalidArgument("address", "must not be empty");
    }
    if (r.address().length() > 255 || r.address().chars().anyMatch(Character::isISOControl)) {
      throw ApiException.invalidArgument("address", "must be host:port, at most 255 characters"
          + " without control characters");
    }
    if (!r.contractVersions().contains(AGENT_CONTRACT)) {
      throw ApiException.failedPrecondition(
          "contract_versions: agent speaks " + r.contractVersions() + ", conductor needs "
              + AGENT_CONTRACT);
    }
    HostEntity saved =
        db.inTransaction(
            s -> {
              Instant now = DbClock.now(s);
              hosts.lockName(s, r.host());
              HostEntity h = hosts.find(s, r.host()).orElse(null);
              if (h == null) {
                h = new HostEntity(r.host(), now);
                h.register(r.address(), r.agentVersion(), r.hypervisor(), r.storageKinds(),
                    r.contractVersions(), r.liveSnapshot(), r.rbdDirectSnapshot(), r.quiesce(), now);
                hosts.insert(s, h);
              } else {
                h.register(r.address(), r.agentVersion(), r.hypervisor(), r.storageKinds(),
                    r.contractVersions(), r.liveSnapshot(), r.rbdDirectSnapshot(), r.quiesce(), now);
              }
              return h;
            });
    LOG.info("host registered; host={} address={} agentVersion={}",
        r.host(), r.address(), r.agentVersion());
    registered.forEach(l -> l.accept(r.host()));
    return saved;
  }

  /** Records a beat; NOT_FOUND when the host must register first. */
  /**
   * Records a beat of {@code host} (batched with others, {@link HeartbeatWriter}); completes
   * with whether the host is disabled, or fails NOT_FOUND for a host never registered.
   */
  public java.util.concurrent.CompletableFuture<Beat> heartbeat(String host) {
    Ids.hostName("host", host);
    return heartbeats.beat(host).thenApply(b -> {
      if (!b.registered()) {
        throw ApiException.notFound("host " + host + " is not registered; register first");
      }
      return new Beat(b.disabled());
    });
  }

  /** What a recorded beat tells the agent: whether its host is disabled. */
  public record Beat(boolean disabled) {}

  /**
   * Whether a host's last beat is recent enough at {@code now}, the database's time (beats
   * are stamped by it too, see {@link DbClock}).
   */
  private boolean isUp(HostEntity host, Instant now) {
    return isUp(host.lastHeartbeatAt(), now);
  }

  private boolean isUp(Instant lastHeartbeatAt, Instant now) {
    return lastHeartbeatAt != null && lastHeartbeatAt.plus(downAfter).isAfter(now);
  }

  /** How many hosts are "up", "down" and "disabled", counted by the database. */
  public Map<String, Long> countByStatus() {
    return db.inTransaction(s -> hosts.countByStatus(s, downAfter));
  }

  /** The host record, up or down; empty when no such host registered. */
  public Optional<HostEntity> find(String host) {
    return db.inTransaction(s -> hosts.find(s, host));
  }

  /** The host record, checked up; UNAVAILABLE when it is down or unknown. */
  public HostEntity requireUp(String host) {
    return db.inTransaction(s -> requireUp(s, host));
  }

  /** As {@link #requireUp(String)}, reading in {@code session}'s transaction. */
  public HostEntity requireUp(org.hibernate.Session session, String host) {
    HostEntity h = hosts.find(session, host)
        .orElseThrow(() -> ApiException.unavailable("host " + host + " is not registered", null));
    if (!isUp(h, DbClock.now(session))) {
      throw ApiException.unavailable(
          "host " + host + " is down (no heartbeat since " + h.lastHeartbeatAt() + ")", null);
    }
    return h;
  }

  /**
   * Where {@code host}'s agent listens, checked up as {@link #requireUp(String)} does, in
   * {@code session}'s transaction and one statement: what every operation on a server reads.
   */
  public HostStore.Reachability reachable(org.hibernate.Session session, String host) {
    HostStore.Reachability h = hosts.reachability(session, host)
        .orElseThrow(() -> ApiException.unavailable("host " + host + " is not registered", null));
    if (!isUp(h.lastHeartbeatAt(), h.now())) {
      throw ApiException.unavailable(
          "host " + host + " is down (no heartbeat since " + h.lastHeartbeatAt() + ")", null);
    }
    return h;
  }

  /**
   * The up, enabled host with the fewest instances among those offering
   * {@code storageKind} ("local" or "rbd") for root disks; UNAVAILABLE when none does.
   */
  public HostEntity pickForBoot(String storageKind) {
    return list().stream()
        .filter(v -> v.up() && !v.host().disabled())
        .filter(v -> v.host().storageKinds().contains(storageKind))
        .min(Comparator.comparingLong(HostView::instanceCount).thenComparing(v -> v.host().name()))
        .map(HostView::host)
        .orElseThrow(() -> ApiException.unavailable("no compute host is up and enabled"
            + ("local".equals(storageKind) ? "" : " with " + storageKind + " storage"), null));
  }

  /** Every host, whether it is up and its instance count: three queries for any number. */
  public List<HostView> list() {
    return db.inTransaction(
        s -> {
          Instant now = DbClock.now(s);
          var counts = instances.countByHost(s);
          return hosts.list(s).stream()
              .map(h -> new HostView(h, isUp(h, now), counts.getOrDefault(h.name(), 0L)))
              .toList();
        });
  }

  public Optional<HostView> get(String name) {
    Ids.hostName("name", name);
    return db.inTransaction(
        s -> hosts.find(s, name).map(h -> new HostView(h, isUp(h, DbClock.now(s)),
            instances.countOnHost(s, name))));
  }

  /** Disables or enables a host; NOT_FOUND when unknown. */
  public HostView setDisabled(String name, boolean disabled, String reason) {
    Ids.hostName("name", name);
    if (reason != null && (reason.length() > 255
        || reason.chars().anyMatch(Character::isISOControl))) {
      throw ApiException.invalidArgument("reason", "must be at most 255 characters without"
          + " control characters");
    }
    db.run(
        s -> hosts.findForUpdate(s, name)
            .orElseThrow(() -> ApiException.notFound("host " + name + " not found"))
            .setDisabled(disabled, reason));
    LOG.info("host {}; host={} reason={}", disabled ? "disabled" : "enabled", name, reason);
    return get(name).orElseThrow();
  }
}
