package io.stratus.conductor.db;

import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/** Records actions, action events and faults (Nova's instance_actions and faults). */
public final class ActionLog {
  private final Clock clock;

  public ActionLog(Clock clock) {
    this.clock = clock;
  }

  /** Records the start of a user request (one statement: it is on every request's path). */
  public void start(
      Session session, String requestId, UUID instance, String action, String project,
      String user) {
    Map<String, Object> p = new HashMap<>();
    p.put("request", requestId);
    p.put("instance", instance);
    p.put("action", action);
    p.put("project", project);
    p.put("user", user);
    p.put("now", clock.instant());
    Jdbc.update(session, "INSERT INTO instance_actions (request_id, instance_uuid, action,"
        + " project_id, user_id, start_time) VALUES (:request, :instance, :action, :project,"
        + " :user, :now)", p);
  }

  /** Opens a step of an action. */
  public void startEvent(Session session, String requestId, String event) {
    Jdbc.update(session, "INSERT INTO instance_action_events (action_id, event, start_time)"
        + " SELECT id, :event, :now FROM instance_actions WHERE request_id = :request",
        Map.of("event", event, "now", clock.instant(), "request", requestId));
  }

  /**
   * Closes a step (opening it first if it never was) and, when it failed, records the
   * failure as the action's message. One statement: this is on every task's path.
   */
  public void finishEvent(
      Session session, String requestId, String event, boolean success, String details) {
    Map<String, Object> p = new HashMap<>();
    p.put("request", requestId);
    p.put("event", event);
    p.put("now", clock.instant());
    p.put("result", success ? InstanceActionEventEntity.SUCCESS
        : InstanceActionEventEntity.ERROR);
    p.put("details", details);
    p.put("message", success ? null : details);
    Jdbc.update(session, "WITH a AS (SELECT id FROM instance_actions WHERE request_id ="
        + " :request), open AS (SELECT min(e.id) AS id FROM instance_action_events e, a"
        + " WHERE e.action_id = a.id AND e.event = :event AND e.finish_time IS NULL),"
        + " closed AS (UPDATE instance_action_events SET finish_time = :now,"
        + " result = :result, details = :details WHERE id = (SELECT id FROM open)"
        + " RETURNING id), opened AS (INSERT INTO instance_action_events (action_id, event,"
        + " start_time, finish_time, result, details) SELECT a.id, :event, :now, :now,"
        + " :result, :details FROM a WHERE (SELECT id FROM open) IS NULL RETURNING id)"
        + " UPDATE instance_actions SET finish_time = :now, message = :message"
        + " WHERE id = (SELECT id FROM a)", p);
  }

  /** Marks an action finished without a step (API-only actions such as lock). */
  public void finishAction(Session session, String requestId, String failureMessage) {
    find(session, requestId).ifPresent(a -> a.finish(clock.instant(), failureMessage));
  }

  public Optional<InstanceActionEntity> find(Session session, String requestId) {
    return session
        .createSelectionQuery(
            "from InstanceActionEntity a where a.requestId = :r", InstanceActionEntity.class)
        .setParameter("r", requestId)
        .uniqueResultOptional();
  }

  /** An instance's actions, newest first. */
  public List<InstanceActionEntity> list(Session session, UUID instance) {
    return session
        .createSelectionQuery(
            "from InstanceActionEntity a where a.instanceUuid = :u"
                + " order by a.startTime desc, a.id desc",
            InstanceActionEntity.class)
        .setParameter("u", instance)
        .getResultList();
  }

  public void recordFault(
      Session session, UUID instance, int code, String message, String details) {
    session.persist(new InstanceFaultEntity(instance, code, message, details, clock.instant()));
  }

  public Optional<InstanceFaultEntity> latestFault(Session session, UUID instance) {
    return session
        .createSelectionQuery(
            "from InstanceFaultEntity f where f.instanceUuid = :u order by f.createdAt desc, f.id desc",
            InstanceFaultEntity.class)
        .setParameter("u", instance)
        .setMaxResults(1)
        .uniqueResultOptional();
  }
}
