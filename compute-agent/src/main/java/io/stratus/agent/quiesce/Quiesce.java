package io.stratus.agent.quiesce;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Nova's quiesce rule for a snapshot, in one place for local disks and volumes: a running
 * guest with a qemu guest agent (hw_qemu_guest_agent=yes) is frozen; when it cannot be
 * (not running, no guest agent, the freeze refused or unanswered) the snapshot goes on
 * crash-consistent, unless the image requires quiesce (os_require_quiesce=yes): then it
 * fails with FAILED_PRECONDITION before anything is taken.
 */
public final class Quiesce {
  private static final Logger LOG = LoggerFactory.getLogger(Quiesce.class);
  /** How long the guest agent may take to answer a freeze or thaw. */
  public static final Duration AGENT_TIMEOUT = Duration.ofSeconds(10);
  /** The longest a guest stays frozen when the request names no bound. */
  public static final Duration DEFAULT_FREEZE_TIMEOUT = Duration.ofSeconds(60);

  /** The outcome: the freeze to close after the snapshot (null if none), or why not. */
  public record Outcome(GuestFreeze freeze, String notQuiescedBecause) {
    public boolean quiesced() {
      return freeze != null;
    }
  }

  private Quiesce() {}

  /**
   * Freezes the guest if it should and can be; see the class comment.
   *
   * @param power the guest's power state now
   * @param guestAgent the guest runs a qemu guest agent
   * @param require the image requires quiesce
   */
  public static Outcome maybeFreeze(Hypervisor hv, String uuid, Path instanceDir,
      Hypervisor.Power power, boolean guestAgent, boolean require, Duration freezeTimeout)
      throws IOException {
    String why;
    if (power != Hypervisor.Power.RUNNING) {
      why = "the guest is not running (" + power + ")";
    } else if (!guestAgent) {
      why = "the guest has no qemu guest agent (hw_qemu_guest_agent)";
    } else {
      try {
        return new Outcome(GuestFreeze.freeze(hv, uuid, instanceDir, AGENT_TIMEOUT,
            freezeTimeout.isZero() ? DEFAULT_FREEZE_TIMEOUT : freezeTimeout), null);
      } catch (HypervisorException e) {
        why = "quiesce failed: " + e.getMessage();
      }
    }
    if (require) {
      throw ApiException.failedPrecondition("quiesce is required (os_require_quiesce) but " + why);
    }
    LOG.info("snapshotting without quiesce; instance={}: {}", uuid, why);
    return new Outcome(null, why);
  }
}
