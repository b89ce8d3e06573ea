package io.stratus.conductor;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.hosts.HostRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The conductor's own gauges, read at most every few seconds whatever the scrape rate:
 * {@code stratus_conductor_hosts{status="up"|"down"|"disabled"}} and {@code
 * stratus_conductor_servers{task_state=...}} (every task state, "none" for servers with no
 * task; deleted servers do not count). The database pool's meters come from HikariCP
 * ({@code hikaricp_connections_*}).
 */
final class ConductorMeters {
  private static final long MAX_AGE_NANOS = 5_000_000_000L;

  private final Database db;
  private final InstanceStore instances;
  private final HostRegistry hosts;
  private long readAt;
  private Map<String, Long> tasks = Map.of();
  private Map<String, Long> hostCounts = Map.of();

  private ConductorMeters(Database db, InstanceStore instances, HostRegistry hosts) {
    this.db = db;
    this.instances = instances;
    this.hosts = hosts;
  }

  /** Registers the gauges in {@code registry}; they hold the returned object. */
  static ConductorMeters bind(MeterRegistry registry, Database db, InstanceStore instances,
      HostRegistry hosts) {
    ConductorMeters m = new ConductorMeters(db, instances, hosts);
    for (String status : List.of("up", "down", "disabled")) {
      Gauge.builder("stratus.conductor.hosts", m, x -> x.hosts(status))
          .tag("status", status).description("compute hosts by status")
          .strongReference(true).register(registry);
    }
    List<String> states = new ArrayList<>(List.of("none"));
    for (TaskState t : TaskState.values()) {
      states.add(t.dbName());
    }
    for (String state : states) {
      Gauge.builder("stratus.conductor.servers", m, x -> x.servers(state))
          .tag("task_state", state).description("servers by task state")
          .strongReference(true).register(registry);
    }
    return m;
  }

  private synchronized double hosts(String status) {
    refresh();
    return hostCounts.getOrDefault(status, 0L);
  }

  private synchronized double servers(String state) {
    refresh();
    return tasks.getOrDefault(state, 0L);
  }

  private void refresh() {
    if (readAt != 0 && System.nanoTime() - readAt < MAX_AGE_NANOS) {
      return;
    }
    try {
      tasks = db.inTransaction(instances::countsByTaskState);
      hostCounts = hosts.countByStatus();
    } catch (RuntimeException e) {
      // the database is away: keep the last figures; the pool's meters show why
    }
    readAt = System.nanoTime();
  }
}
