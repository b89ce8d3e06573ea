package io.stratus.conductor.compute;

import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.EventRelay;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.events.EventSink;
import io.stratus.conductor.events.ServerEvents;
import java.time.Clock;
import java.util.Map;
import java.util.UUID;

/**
 * Publishes committed instance changes, notifications and progress to watchers (through
 * the replicas' shared {@link io.stratus.conductor.db.EventRelay} in a running conductor).
 */
public final class StatePublisher {
  private final Database db;
  private final InstanceStore instances;
  private final EventSink bus;
  private final Clock clock;

  public StatePublisher(Database db, InstanceStore instances, EventSink bus, Clock clock) {
    this.db = db;
    this.instances = instances;
    this.bus = bus;
    this.clock = clock;
  }

  /** Publishes the instance's committed state; call after the transaction committed. */
  public void stateChanged(UUID uuid, TaskState oldTask) {
    if (bus instanceof EventRelay relay) {
      // read and notify in one transaction: one round trip fewer per transition
      relay.publishRead(s -> instances.findAny(s, uuid).map(i -> event(i, oldTask)));
      return;
    }
    db.inTransaction(s -> instances.findAny(s, uuid))
        .ifPresent(i -> bus.publish(event(i, oldTask)));
  }

  /**
   * Publishes the instance's state as part of {@code session}'s transaction, the one whose
   * swap changed it: delivered to every replica's watchers when, and only if, it commits —
   * a replica that dies right after its commit loses no event.
   */
  public void stateChangedIn(org.hibernate.Session session, UUID uuid, TaskState oldTask) {
    var i = instances.findAny(session, uuid);
    if (i.isEmpty()) {
      return;
    }
    if (bus instanceof EventRelay relay) {
      relay.notifyIn(session, event(i.get(), oldTask));
    } else {
      bus.publish(event(i.get(), oldTask));
    }
  }

  private io.stratus.proto.conductor.v1.ServerEvent event(
      io.stratus.conductor.db.InstanceEntity i, TaskState oldTask) {
    return ServerEvents.stateChange(i.uuid().toString(), i.vmState(), i.taskState(),
        i.powerState(), i.host(), oldTask, clock.instant());
  }

  public void notify(UUID uuid, String eventType, String requestId, Map<String, String> payload) {
    bus.publish(
        ServerEvents.notification(uuid.toString(), eventType, requestId, payload, clock.instant()));
  }

  public void progress(UUID uuid, String requestId, long done, long total) {
    bus.publish(ServerEvents.progress(uuid.toString(), requestId, done, total, clock.instant()));
  }
}
