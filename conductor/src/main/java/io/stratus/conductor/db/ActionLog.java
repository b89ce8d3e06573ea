package io.stratus.conductor.db;

import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/** Records actions, action events and faults (Nova's instance_actions and faults). */
public final class ActionLog {
  private final Clock clock;

  public ActionLog(Clock clock) {
    this.clock = clock;
  }

  /** Records the start of a user request. */
  public InstanceActionEntity start(
      Session session, String requestId, UUID instance, String action, String project,
      String user) {
    InstanceActionEntity a =
        new InstanceActionEntity(requestId, instance, action, project, user, clock.instant());
    session.persist(a);
    return a;
  }

  /** Opens a step of an action. */
  public void startEvent(Session session, String requestId, String event) {
    find(session, requestId)
        .ifPresent(a -> {
          InstanceActionEventEntity e = new InstanceActionEventEntity(a, event, clock.instant());
          session.persist(e);
          a.addEvent(e);
        });
  }

  /**
   * Closes a step (opening it first if it never was) and, when it failed, records the
   * failure as the action's message.
   */
  public void finishEvent(
      Session session, String requestId, String event, boolean success, String details) {
    find(session, requestId)
        .ifPresent(a -> {
          InstanceActionEventEntity open =
              a.events().stream()
                  .filter(e -> e.event().equals(event) && e.finishTime() == null)
                  .findFirst()
                  .orElseGet(() -> {
                    InstanceActionEventEntity e =
                        new InstanceActionEventEntity(a, event, clock.instant());
                    session.persist(e);
                    a.addEvent(e);
                    return e;
                  });
          open.finish(clock.instant(),
              success ? InstanceActionEventEntity.SUCCESS : InstanceActionEventEntity.ERROR,
              details);
          a.finish(clock.instant(), success ? null : details);
        });
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
