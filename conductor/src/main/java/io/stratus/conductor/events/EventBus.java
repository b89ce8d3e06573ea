package io.stratus.conductor.events;

import io.stratus.proto.conductor.v1.ServerEvent;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans committed server events out to watchers in this conductor process. Events are
 * published after their transaction commits, so a watcher never sees a change that was
 * rolled back. Listeners must not block; {@link EventSubscription} queues for them.
 */
public final class EventBus {
  private static final Logger LOG = LoggerFactory.getLogger(EventBus.class);

  private record Listener(Predicate<ServerEvent> filter, Consumer<ServerEvent> sink,
      Runnable onGap) {}

  private final Set<Listener> listeners = new CopyOnWriteArraySet<>();

  /** Registers a listener; close the returned handle to remove it. */
  public AutoCloseable subscribe(Predicate<ServerEvent> filter, Consumer<ServerEvent> sink) {
    return subscribe(filter, sink, () -> {});
  }

  /**
   * Registers a listener that is also told when events may have been lost ({@link #gap}):
   * a watcher then ends its stream so its client watches again from a fresh snapshot.
   */
  public AutoCloseable subscribe(Predicate<ServerEvent> filter, Consumer<ServerEvent> sink,
      Runnable onGap) {
    Listener l = new Listener(filter, sink, onGap);
    listeners.add(l);
    return () -> listeners.remove(l);
  }

  /** Tells every listener that events may have been lost (the replicas' feed broke). */
  public void gap() {
    for (Listener l : listeners) {
      try {
        l.onGap().run();
      } catch (RuntimeException e) {
        LOG.warn("event listener failed on a gap", e);
      }
    }
  }

  /** Delivers an event to every listener whose filter accepts it. */
  public void publish(ServerEvent event) {
    for (Listener l : listeners) {
      try {
        if (l.filter().test(event)) {
          l.sink().accept(event);
        }
      } catch (RuntimeException e) {
        LOG.warn("event listener failed; event={}", event.getKindCase(), e);
      }
    }
  }

  /** Number of current listeners (for tests and metrics). */
  public int listenerCount() {
    return listeners.size();
  }
}
