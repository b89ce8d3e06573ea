package io.stratus.gateway.upload;

import io.stratus.support.errors.ApiException;
import java.util.HashMap;
import java.util.Map;

/**
 * The gateway's upload slots: {@code uploads.max} in all, at most {@code
 * uploads.max.per.project} of them for the images of one project, so one project cannot
 * stall every other project's snapshots. A slot is taken when an upload's header is
 * accepted and given back when the upload ends, fails or goes idle.
 */
public final class UploadSlots {
  private final int total;
  private final int perProject;
  private final Map<String, Integer> byProject = new HashMap<>();
  private int inUse;

  public UploadSlots(int total, int perProject) {
    this.total = total;
    this.perProject = perProject;
  }

  /** Takes a slot for an upload to an image of {@code owner}; RESOURCE_EXHAUSTED naming the limit. */
  public synchronized void acquire(String owner) {
    if (inUse >= total) {
      throw ApiException.resourceExhausted("uploads.max: " + total + " uploads are in progress"
          + " (the limit uploads.max = " + total + "); retry later");
    }
    int mine = byProject.getOrDefault(owner, 0);
    if (mine >= perProject) {
      throw ApiException.resourceExhausted("uploads.max.per.project: project '" + owner
          + "' has " + mine + " uploads in progress (the limit uploads.max.per.project = "
          + perProject + "); retry later");
    }
    inUse++;
    byProject.put(owner, mine + 1);
  }

  /** Gives back a slot taken for {@code owner}. */
  public synchronized void release(String owner) {
    inUse--;
    byProject.computeIfPresent(owner, (o, n) -> n <= 1 ? null : n - 1);
  }
}
