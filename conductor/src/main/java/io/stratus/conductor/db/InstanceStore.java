package io.stratus.conductor.db;

import io.stratus.conductor.domain.VmState;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/**
 * Reads and writes {@code instances}. State columns change only through {@link
 * #apply(Session, StateUpdate)}, a compare-and-swap in SQL; a lost swap returns {@code
 * false} and changes nothing.
 */
public final class InstanceStore {
  private final Clock clock;

  public InstanceStore(Clock clock) {
    this.clock = clock;
  }

  /** A live (not deleted) instance. */
  public Optional<InstanceEntity> find(Session session, UUID uuid) {
    InstanceEntity e = session.find(InstanceEntity.class, uuid);
    return Optional.ofNullable(e).filter(i -> i.deletedAt() == null);
  }

  /**
   * A live instance as a detached copy read with one plain JDBC statement, metadata
   * included: for the checks and the agent's spec every operation reads (the entity load
   * with its metadata collection cost the conductor more than the query). Never to change.
   */
  public Optional<InstanceEntity> read(Session session, UUID uuid) {
    return Jdbc.queryOne(session, "SELECT i.uuid, i.name, i.project_id, i.user_id, i.host,"
        + " i.vm_state, i.task_state, i.power_state, i.image_ref, i.root_disk_kind,"
        + " i.guest_agent, i.require_quiesce, i.vcpus, i.memory_mb, i.root_gb, i.locked,"
        + " i.locked_by, i.lock_reason, i.task_request_id, i.task_image_id, i.task_owner,"
        + " i.created_at, i.updated_at, i.deleted_at, i.version,"
        + " array(SELECT m.key FROM instance_metadata m WHERE m.instance_uuid = i.uuid"
        + "   ORDER BY m.key),"
        + " array(SELECT m.value FROM instance_metadata m WHERE m.instance_uuid = i.uuid"
        + "   ORDER BY m.key)"
        + " FROM instances i WHERE i.uuid = ? AND i.deleted_at IS NULL",
        InstanceEntity::fromRow, uuid);
  }

  /** An instance's state columns, as a state-change event tells them. */
  public record State(io.stratus.conductor.domain.VmState vm,
      io.stratus.conductor.domain.TaskState task, io.stratus.conductor.domain.PowerState power,
      String host) {}

  /**
   * The state columns of an instance, deleted or not, read with one plain statement in
   * {@code session}'s transaction (every transition's event reads them).
   */
  public Optional<State> state(Session session, UUID uuid) {
    return Jdbc.queryOne(session, "SELECT vm_state, task_state, power_state, host"
        + " FROM instances WHERE uuid = ?", InstanceStore::state, uuid);
  }

  private static State state(java.sql.ResultSet rs) throws java.sql.SQLException {
    return new State(VmState.fromDb(rs.getString(1)),
        io.stratus.conductor.domain.TaskState.fromDb(rs.getString(2)),
        io.stratus.conductor.domain.PowerState.fromCode(rs.getInt(3)), rs.getString(4));
  }

  /** An instance, deleted or not. */
  public Optional<InstanceEntity> findAny(Session session, UUID uuid) {
    return Optional.ofNullable(session.find(InstanceEntity.class, uuid));
  }

  public void insert(Session session, InstanceEntity instance) {
    session.persist(instance);
  }

  /** Applies the compare-and-swap; {@code true} when the row matched and changed. */
  public boolean apply(Session session, StateUpdate update) {
    return swap(session, update).isPresent();
  }

  /**
   * Applies the compare-and-swap; the instance's state columns as it left them, read in
   * the same statement ({@code RETURNING}), or empty when the row did not match.
   */
  public Optional<State> swap(Session session, StateUpdate update) {
    Optional<State> after = Jdbc.updateReturning(session, update.sql()
        + " RETURNING vm_state, task_state, power_state, host",
        update.parameters(clock.instant()), InstanceStore::state);
    if (after.isPresent() && update.setsTask()) {
      TaskTransitionMeter.countOnCommit(session, update.taskTo());
    }
    // Later reads in this session must see the new row, not a copy it holds already (a
    // lookup in the persistence context: no query, no proxy, when it holds none).
    var si = session.unwrap(org.hibernate.engine.spi.SharedSessionContractImplementor.class);
    Object held = si.getPersistenceContextInternal().getEntity(si.generateEntityKey(
        update.uuid(), si.getFactory().getMappingMetamodel()
            .getEntityDescriptor(InstanceEntity.class)));
    if (held != null) {
      session.refresh(held);
    }
    return after;
  }

  /** Filters and paging for {@link #list}. */
  public record ListQuery(
      String projectId,
      VmState vmState,
      String host,
      String namePrefix,
      boolean includeDeleted,
      Instant afterCreatedAt,
      UUID afterUuid,
      int limit) {}

  /**
   * Lists instances newest first, keyset-paged on (created_at, uuid) after the given
   * position; {@code projectId} null means every project.
   */
  public List<InstanceEntity> list(Session session, ListQuery q) {
    StringBuilder hql = new StringBuilder("from InstanceEntity i where 1 = 1");
    if (q.projectId() != null) {
      hql.append(" and i.projectId = :project");
    }
    if (q.vmState() != null) {
      hql.append(" and i.vmState = :vm");
    }
    if (q.host() != null) {
      hql.append(" and i.host = :host");
    }
    if (q.namePrefix() != null) {
      hql.append(" and i.name like :prefix escape '\\'");
    }
    if (!q.includeDeleted()) {
      hql.append(" and i.deletedAt is null");
    }
    if (q.afterCreatedAt() != null) {
      hql.append(" and (i.createdAt < :afterTs or (i.createdAt = :afterTs and i.uuid < :afterId))");
    }
    hql.append(" order by i.createdAt desc, i.uuid desc");
    var query = session.createSelectionQuery(hql.toString(), InstanceEntity.class);
    if (q.projectId() != null) {
      query.setParameter("project", q.projectId());
    }
    if (q.vmState() != null) {
      query.setParameter("vm", q.vmState().dbName());
    }
    if (q.host() != null) {
      query.setParameter("host", q.host());
    }
    if (q.namePrefix() != null) {
      query.setParameter("prefix", escapeLike(q.namePrefix()) + "%");
    }
    if (q.afterCreatedAt() != null) {
      query.setParameter("afterTs", q.afterCreatedAt());
      query.setParameter("afterId", q.afterUuid());
    }
    return query.setMaxResults(q.limit()).getResultList();
  }

  /**
   * Live instances in a task state whose owning conductor has not renewed its lease for
   * {@code expiry} by the database's clock (or that have no owner): work nobody drives.
   */
  public List<UUID> orphanedTasks(Session session, java.time.Duration expiry) {
    return session
        .createNativeQuery(
            "SELECT i.uuid FROM instances i WHERE i.task_state IS NOT NULL"
                + " AND i.deleted_at IS NULL AND (i.task_owner IS NULL OR NOT EXISTS ("
                + " SELECT 1 FROM conductors c WHERE c.id = i.task_owner"
                + " AND c.last_seen_at >= clock_timestamp() - make_interval(secs => :expiry)))"
                + " ORDER BY i.updated_at",
            UUID.class)
        .setParameter("expiry", expiry.toMillis() / 1000.0)
        .getResultList();
  }

  /** Live instances of a host that are in a task state (for recovery). */
  public List<InstanceEntity> inTaskOnHost(Session session, String host) {
    return session
        .createSelectionQuery(
            "from InstanceEntity i where i.host = :host and i.taskState is not null"
                + " and i.deletedAt is null",
            InstanceEntity.class)
        .setParameter("host", host)
        .getResultList();
  }

  /** The images live instances' snapshot tasks are filling now. */
  public java.util.Set<String> imagesInFlight(Session session) {
    return java.util.Set.copyOf(session.createNativeQuery("SELECT task_image_id FROM instances"
        + " WHERE task_image_id IS NOT NULL AND deleted_at IS NULL", String.class).getResultList());
  }

  /** Live instances of a host with no task in flight (for the power-state sync). */
  public List<InstanceEntity> idleOnHost(Session session, String host) {
    return session
        .createSelectionQuery(
            "from InstanceEntity i where i.host = :host and i.taskState is null"
                + " and i.deletedAt is null",
            InstanceEntity.class)
        .setParameter("host", host)
        .getResultList();
  }

  /**
   * Live instances per host, in one query (hosts without any are absent): listing
   * thousands of hosts must not cost a query each.
   */
  public java.util.Map<String, Long> countByHost(Session session) {
    java.util.Map<String, Long> counts = new java.util.HashMap<>();
    for (Object[] row : session.createSelectionQuery("select i.host, count(i) from"
        + " InstanceEntity i where i.host is not null and i.deletedAt is null group by i.host",
        Object[].class).getResultList()) {
      counts.put((String) row[0], (Long) row[1]);
    }
    return counts;
  }

  /** Number of live instances on one host. */
  public long countOnHost(Session session, String host) {
    return session
        .createSelectionQuery(
            "select count(i) from InstanceEntity i where i.host = :host and i.deletedAt is null",
            Long.class)
        .setParameter("host", host)
        .getSingleResult();
  }

  private static String escapeLike(String s) {
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
  }

  /** How many live (not deleted) instances are in each task state; "none" for no task. */
  public java.util.Map<String, Long> countsByTaskState(Session session) {
    java.util.Map<String, Long> counts = new java.util.HashMap<>();
    for (Object[] row : session.createSelectionQuery(
            "select i.taskState, count(i) from InstanceEntity i where i.deletedAt is null"
                + " group by i.taskState", Object[].class).getResultList()) {
      counts.put(row[0] == null ? "none" : (String) row[0], (Long) row[1]);
    }
    return counts;
  }
}
