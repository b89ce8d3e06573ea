package io.stratus.conductor.api;

import io.stratus.support.errors.ApiException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Open watch streams per project ({@code api.watch.max.per.project}): a stream holds a
 * subscription and a queue in the conductor for as long as it is open, so one project
 * cannot hold them all. Past the limit a new watch is RESOURCE_EXHAUSTED naming it.
 */
final class WatchQuota {
  private final int perProject;
  private final Map<String, Integer> open = new ConcurrentHashMap<>();

  WatchQuota(int perProject) {
    this.perProject = perProject;
  }

  /** Takes a slot for {@code project}; the returned action frees it (once, however often run). */
  Runnable acquire(String project) {
    boolean[] taken = {false};
    open.compute(project, (p, n) -> {
      int now = n == null ? 0 : n;
      if (now >= perProject) {
        return now;
      }
      taken[0] = true;
      return now + 1;
    });
    if (!taken[0]) {
      throw ApiException.resourceExhausted("watch streams: project " + project + " has "
          + perProject + " open, the limit api.watch.max.per.project = " + perProject);
    }
    AtomicBoolean released = new AtomicBoolean();
    return () -> {
      if (released.compareAndSet(false, true)) {
        open.computeIfPresent(project, (p, n) -> n <= 1 ? null : n - 1);
      }
    };
  }
}
