package io.stratus.agent.quiesce;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.support.concurrent.Timers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A guest whose filesystems are frozen through its qemu guest agent (Nova's quiesce), and
 * the guarantees that it is thawed again:
 *
 * <ul>
 *   <li>{@link #close} thaws (use try-with-resources);
 *   <li>a timer thaws after {@code freezeTimeout} even if the work in between hangs
 *       (KubeVirt's {@code unfreezeTimeoutSeconds}); {@link #autoThawed} then says so and
 *       the snapshots taken are not application-consistent;
 *   <li>a marker file {@value #MARKER} in the instance's directory lives exactly while the
 *       guest may be frozen, so an agent that crashed in between thaws the guest at its
 *       next start ({@link #thawLeftovers}).
 * </ul>
 */
public final class GuestFreeze implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GuestFreeze.class);
  /** Present in DIR/UUID while the agent may have left the guest frozen. */
  public static final String MARKER = ".stratus-frozen";
  private static final ScheduledExecutorService TIMER = Timers.daemon("guest-auto-thaw");

  private final Hypervisor hv;
  private final String uuid;
  private final Path marker;
  private final Duration agentTimeout;
  private final long frozenAt;
  private final ScheduledFuture<?> autoThaw;
  private long thawedAt;
  private boolean thawed;
  private boolean autoThawed;

  private GuestFreeze(Hypervisor hv, String uuid, Path marker, Duration agentTimeout,
      Duration freezeTimeout) {
    this.hv = hv;
    this.uuid = uuid;
    this.marker = marker;
    this.agentTimeout = agentTimeout;
    this.frozenAt = System.nanoTime();
    this.autoThaw = TIMER.schedule(this::autoThaw, freezeTimeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Freezes the guest's filesystems; {@link HypervisorException} (UNSUPPORTED: no
   * connected guest agent; FAILED: the agent refused or did not answer within
   * {@code agentTimeout}) leaves the guest thawed and no marker behind.
   */
  public static GuestFreeze freeze(Hypervisor hv, String uuid, Path instanceDir,
      Duration agentTimeout, Duration freezeTimeout) throws IOException {
    Files.createDirectories(instanceDir);
    Path marker = instanceDir.resolve(MARKER);
    Files.writeString(marker, uuid + "\n");
    try {
      int n = hv.freezeFilesystems(uuid, agentTimeout);
      LOG.info("guest frozen; instance={} filesystems={} auto_thaw_after={}", uuid, n, freezeTimeout);
    } catch (HypervisorException e) {
      // A freeze that timed out may still have happened in the guest: thaw to be sure.
      if (e.kind() != HypervisorException.Kind.UNSUPPORTED) {
        safeThaw(hv, uuid, agentTimeout);
      }
      Files.deleteIfExists(marker);
      throw e;
    }
    return new GuestFreeze(hv, uuid, marker, agentTimeout, freezeTimeout);
  }

  private synchronized void autoThaw() {
    if (!thawed) {
      LOG.warn("freeze timeout: thawing the guest before the snapshot finished; instance={}", uuid);
      autoThawed = true;
      thaw();
    }
  }

  /** Whether the timer thawed the guest before {@link #close}. */
  public synchronized boolean autoThawed() {
    return autoThawed;
  }

  /** How long the guest was (or has been) frozen. */
  public synchronized long frozenMillis() {
    long end = thawed ? thawedAt : System.nanoTime();
    return TimeUnit.NANOSECONDS.toMillis(end - frozenAt);
  }

  private void thaw() {
    thawed = true;
    thawedAt = System.nanoTime();
    if (safeThaw(hv, uuid, agentTimeout)) {
      try {
        Files.deleteIfExists(marker);
      } catch (IOException e) {
        LOG.warn("could not remove the freeze marker {}: {}", marker, e.getMessage());
      }
    }
  }

  /** Thaws now unless already thawed; never throws (a failure keeps the marker). */
  @Override
  public synchronized void close() {
    autoThaw.cancel(false);
    if (!thawed) {
      thaw();
    }
  }

  private static boolean safeThaw(Hypervisor hv, String uuid, Duration agentTimeout) {
    try {
      hv.thawFilesystems(uuid, agentTimeout);
      return true;
    } catch (HypervisorException e) {
      LOG.error("could not thaw the guest; the next agent start tries again; instance={}: {}",
          uuid, e.getMessage());
      return false;
    }
  }

  /**
   * Thaws every guest a crashed agent may have left frozen (a marker under
   * {@code instancesDir}); returns how many were thawed. A guest that is gone just loses
   * its marker.
   */
  public static int thawLeftovers(Hypervisor hv, Path instancesDir, Duration agentTimeout)
      throws IOException {
    if (!Files.isDirectory(instancesDir)) {
      return 0;
    }
    int thawed = 0;
    try (var dirs = Files.list(instancesDir)) {
      for (Path dir : dirs.toList()) {
        Path marker = dir.resolve(MARKER);
        if (!Files.exists(marker)) {
          continue;
        }
        String uuid = dir.getFileName().toString();
        if (hv.find(uuid).isEmpty()) {
          Files.deleteIfExists(marker);
          continue;
        }
        LOG.warn("thawing a guest left frozen by a crash; instance={}", uuid);
        if (safeThaw(hv, uuid, agentTimeout)) {
          Files.deleteIfExists(marker);
          thawed++;
        }
      }
    }
    return thawed;
  }
}
