package io.stratus.conductor.compute;

import io.stratus.conductor.db.InstanceActionEntity;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * One action of a server (Nova's instance action) with its events, as plain values.
 * {@code finishTime} and {@code message} may be null; so may an event's {@code finishTime},
 * {@code result} and {@code details}.
 */
public record ActionView(String requestId, String action, UUID serverId, String projectId,
    String userId, Instant startTime, Instant finishTime, String message, List<Event> events) {

  public ActionView {
    events = List.copyOf(events);
  }

  /** One step of an action. */
  public record Event(String event, Instant startTime, Instant finishTime, String result,
      String details) {}

  static ActionView of(InstanceActionEntity a) {
    return new ActionView(a.requestId(), a.action(), a.instanceUuid(), a.projectId(),
        a.userId(), a.startTime(), a.finishTime(), a.message(),
        a.events().stream().map(e -> new Event(e.event(), e.startTime(), e.finishTime(),
            e.result(), e.details())).toList());
  }
}
