package io.stratus.conductor.events;

import io.stratus.proto.conductor.v1.ServerEvent;

/** Where committed server events are published: to this process's watchers, or to all replicas'. */
@FunctionalInterface
public interface EventSink {
  /** Publishes an event whose change has committed. */
  void publish(ServerEvent event);
}
