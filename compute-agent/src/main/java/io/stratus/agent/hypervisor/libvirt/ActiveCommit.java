package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.hypervisor.HypervisorException.Kind;
import java.time.Duration;
import java.util.Optional;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Active, shallow block commit of a disk's top image into the image below it, then a pivot
 * back to that image. The steps, each bounded by one overall deadline:
 *
 * <pre>
 *   COMMITTING --(cur == end)--> READY --(abort with PIVOT)--> PIVOTING --(job gone)--> DONE
 *        |                          |                              |
 *        +--- deadline passed ------+------------------------------+--> abort without pivot,
 *        |                                                              FAILED (guest keeps
 *        +--- job vanished before ready --> FAILED                      writing the overlay)
 * </pre>
 *
 * <p>{@code SHALLOW} matters: without it libvirt commits into the bottom of the backing chain.
 */
final class ActiveCommit {

  private static final Logger LOG = LoggerFactory.getLogger(ActiveCommit.class);

  /** {@code VIR_DOMAIN_BLOCK_COMMIT_SHALLOW | VIR_DOMAIN_BLOCK_COMMIT_ACTIVE}. */
  static final int COMMIT_FLAGS = 1 | 4;
  /** {@code VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT}. */
  static final int ABORT_PIVOT = 2;
  /** How often the job is polled. */
  static final Duration POLL = Duration.ofMillis(20);

  private final Domain domain;
  private final LibvirtNative natives;
  private final String uuid;
  private final String target;
  private final long deadline;
  private final long startedAt;

  ActiveCommit(Domain domain, LibvirtNative natives, String uuid, String target, Duration timeout) {
    this.domain = domain;
    this.natives = natives;
    this.uuid = uuid;
    this.target = target;
    this.startedAt = System.nanoTime();
    this.deadline = startedAt + timeout.toNanos();
  }

  /** Runs the commit and pivot; on any failure after the job started, the job is aborted. */
  void run() throws LibvirtException, LibvirtNative.Failure {
    domain.blockCommit(target, null, null, 0, COMMIT_FLAGS);
    LOG.info("domain {}: active commit of {} started", uuid, target);
    boolean pivotRequested = false;
    try {
      awaitReady();
      long readyAt = System.nanoTime();
      pivotRequested = true;
      pivot();
      awaitGone();
      LOG.info("domain {}: active commit of {} done: ready after {} ms, pivot {} ms", uuid, target,
          millis(readyAt - startedAt), millis(System.nanoTime() - readyAt));
    } catch (HypervisorException | LibvirtException | LibvirtNative.Failure e) {
      cancel(pivotRequested);
      throw e;
    }
  }

  private void awaitReady() throws LibvirtNative.Failure {
    while (true) {
      Optional<LibvirtNative.BlockJob> job = natives.blockJob(domain, target);
      if (job.isEmpty()) {
        throw failed("the commit job ended before it was ready (see the libvirtd log)");
      }
      if (job.get().ready()) {
        return;
      }
      pause("waiting for the commit to become ready (" + job.get().cur() + "/" + job.get().end()
          + " bytes)");
    }
  }

  /**
   * Requests the pivot. cur == end does not always mean qemu already counts the job as
   * ready (a commit of an overlay made moments ago can report 0/0 before qemu's job state
   * catches up): "not ready for pivot yet" is retried until the deadline, not fatal.
   */
  private void pivot() throws LibvirtException {
    while (true) {
      try {
        domain.blockJobAbort(target, ABORT_PIVOT);
        return;
      } catch (LibvirtException e) {
        String message = String.valueOf(e.getMessage());
        if (!message.contains("not ready for pivot")) {
          throw e;
        }
        pause("waiting for qemu to accept the pivot");
      }
    }
  }

  private void awaitGone() throws LibvirtNative.Failure {
    while (natives.blockJob(domain, target).isPresent()) {
      pause("waiting for the pivot to finish");
    }
  }

  private void pause(String doing) {
    if (System.nanoTime() - deadline >= 0) {
      throw failed("timed out after " + millis(System.nanoTime() - startedAt) + " ms " + doing);
    }
    try {
      Thread.sleep(POLL);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failed("interrupted while " + doing);
    }
  }

  /** Aborts the job without pivot if it is still there: the guest keeps using the overlay. */
  private void cancel(boolean pivotRequested) {
    try {
      if (natives.blockJob(domain, target).isPresent()) {
        domain.blockJobAbort(target, 0);
        LOG.warn("domain {}: commit job on {} aborted{}; the guest still writes to the overlay",
            uuid, target, pivotRequested ? " after a pivot request" : "");
      }
    } catch (LibvirtException | LibvirtNative.Failure e) {
      LOG.warn("domain {}: cannot abort the commit job on {}: {}", uuid, target, e.getMessage());
    }
  }

  private HypervisorException failed(String why) {
    return new HypervisorException(Kind.FAILED,
        "active commit of " + target + " of domain " + uuid + ": " + why, null);
  }

  private static long millis(long nanos) {
    return nanos / 1_000_000;
  }
}
