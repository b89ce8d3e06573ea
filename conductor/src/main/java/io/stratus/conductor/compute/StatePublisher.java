package io.stratus.conductor.compute;

import io.stratus.conductor.db.EventRelay;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.events.ServerEvents;
import java.time.Clock;
import java.util.Map;
import java.util.UUID;

/**
 * Publishes instance changes, notifications and progress to every replica's watchers,
 * through the replicas' shared {@link EventRelay}.
 */
public final class StatePublisher {
  private final InstanceStore instances;
  private final EventRelay bus;
  private final Clock clock;

  public StatePublisher(InstanceStore instances, EventRelay bus, Clock clock) {
    this.instances = instances;
    this.bus = bus;
    this.clock = clock;
  }

  /**
   * Publishes the instance's state as part of {@code session}'s transaction, the one whose
   * swap changed it: delivered to every replica's watchers when, and only if, it commits —
   * a replica that dies right after its commit loses no event.
   */
  public void stateChangedIn(org.hibernate.Session session, UUID uuid, TaskState oldTask) {
    instances.state(session, uuid).ifPresent(st -> stateChangedIn(session, uuid, st, oldTask));
  }

  /** As {@link #stateChangedIn(org.hibernate.Session, UUID, TaskState)}, state {@code now}. */
  public void stateChangedIn(org.hibernate.Session session, UUID uuid, InstanceStore.State now,
      TaskState oldTask) {
    bus.notifyIn(session, ServerEvents.stateChange(uuid.toString(), now.vm(), now.task(),
        now.power(), now.host(), oldTask, clock.instant()));
  }

  /**
   * Sends a notification as part of {@code session}'s transaction (the one recording what
   * it tells), so that it costs no transaction of its own and is sent only if that commits.
   */
  public void notifyIn(org.hibernate.Session session, UUID uuid, String eventType,
      String requestId, Map<String, String> payload) {
    bus.notifyIn(session, ServerEvents.notification(uuid.toString(), eventType, requestId,
        payload, clock.instant()));
  }

  /** Sends a notification in a transaction of its own. */
  public void notify(UUID uuid, String eventType, String requestId, Map<String, String> payload) {
    bus.publish(
        ServerEvents.notification(uuid.toString(), eventType, requestId, payload, clock.instant()));
  }

  public void progress(UUID uuid, String requestId, long done, long total) {
    bus.publish(ServerEvents.progress(uuid.toString(), requestId, done, total, clock.instant()));
  }
}
