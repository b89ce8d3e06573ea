package io.stratus.conductor.recovery;

import io.stratus.conductor.compute.AgentTask;
import io.stratus.conductor.compute.InstanceSpecs;
import io.stratus.conductor.compute.StatePublisher;
import io.stratus.conductor.compute.TaskDriver;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adopts tasks whose owning conductor is gone (Nova's {@code _init_instance}, as a
 * level-triggered loop): at start-up and every interval it finds instances in a task
 * state whose owner's lease expired (or that have no owner), claims each with a
 * compare-and-swap on the owner, and resolves it:
 *
 * <pre>
 *   snapshot states ─► re-attach to the agent's operation by its id and follow it to its
 *                      end (the agent no longer knows it, or stays unreachable for the
 *                      re-attach window: failed, image deleted unless active)
 *                      no such host: image deleted unless active, task → none
 *   spawning        ─► vm_state error, task → none
 *   powering-on/off, reboot (hard), deleting
 *                   ─► host up: re-attach to the agent's operation by its id (idempotent)
 *                      host down: released again, retried next round
 *   any other task  ─► task → none
 * </pre>
 */
public final class Reconciler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  private final Database db;
  private final InstanceSpecs specs;
  private final InstanceStore instances;
  private final ActionLog actions;
  private final HostRegistry hosts;
  private final ImageRegistry images;
  private final TaskDriver driver;
  private final StatePublisher publisher;
  private final ConductorLease lease;
  private final Duration interval;
  private final ScheduledExecutorService timer =
      Timers.daemon("reconciler");

  public Reconciler(
      Database db,
      InstanceStore instances,
      ActionLog actions,
      HostRegistry hosts,
      ImageRegistry images,
      TaskDriver driver,
      StatePublisher publisher,
      ConductorLease lease,
      Duration interval) {
    this.db = db;
    this.specs = new InstanceSpecs(db);
    this.instances = instances;
    this.actions = actions;
    this.hosts = hosts;
    this.images = images;
    this.driver = driver;
    this.publisher = publisher;
    this.lease = lease;
    this.interval = interval;
  }

  /** Runs a round now and then every interval. */
  public void start() {
    timer.scheduleWithFixedDelay(this::safeRound, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void safeRound() {
    try {
      reconcileOnce();
    } catch (RuntimeException e) {
      LOG.warn("reconcile round failed; it will run again", e);
    }
  }

  /** One round; returns how many instances were adopted. */
  public int reconcileOnce() {
    List<UUID> orphans = db.inTransaction(s -> instances.orphanedTasks(s, lease.expiry()));
    int adopted = 0;
    for (UUID uuid : orphans) {
      if (adopt(uuid)) {
        adopted++;
      }
    }
    return adopted;
  }

  private boolean adopt(UUID uuid) {
    Optional<InstanceEntity> found = db.inTransaction(s -> instances.find(s, uuid));
    if (found.isEmpty() || found.get().taskState() == null) {
      return false;
    }
    InstanceEntity i = found.get();
    if (i.taskRequestId() != null && driver.runningRequests().contains(i.taskRequestId())) {
      // We still follow it: our lease only looked expired (the database was away while it
      // was due for renewal). Adopting it would follow it twice.
      return false;
    }
    String previousOwner = i.taskOwner();
    boolean claimed = db.inTransaction(s -> instances.apply(s, StateUpdate.of(uuid)
        .expectTask(i.taskState())
        .expectOwner(previousOwner)
        .owner(lease.id())));
    if (!claimed) {
      return false;  // another conductor was faster, or the task moved on
    }
    TaskState task = i.taskState();
    Operation op = operationOf(task).orElse(null);
    LOG.info("adopting orphaned task; instance={} task={} request={} previousOwner={}",
        uuid, task.dbName(), i.taskRequestId(), previousOwner);
    String why = "interrupted: conductor " + (previousOwner == null ? "(none)" : previousOwner)
        + " stopped while the task ran";
    if (op == Operation.CREATE_IMAGE) {
      // Re-attach even to a host that looks down: after a conductor restart its agent has
      // not beaten to us yet. An agent that is really gone is given up on after the driver's
      // re-attach window (and cancels the operation itself after its orphan timeout).
      Optional<HostEntity> host = i.taskRequestId() == null || i.host() == null
          ? Optional.empty() : hosts.find(i.host());
      if (host.isPresent()) {
        resume(i, op, host.get());
      } else {
        abandonSnapshot(i, why);
      }
    } else if (op == Operation.CREATE) {
      finish(i, op, VmState.ERROR, why);
    } else if (op == null) {
      finish(i, null, null, why);
    } else {
      reattach(i, op);
    }
    return true;
  }

  private void abandonSnapshot(InstanceEntity i, String why) {
    hostIfUp(i.host()).ifPresent(h -> {
      if (i.taskRequestId() != null) {
        driver.cancel(h.name(), h.address(), i.taskRequestId());
      }
    });
    if (i.taskImageId() != null) {
      try {
        boolean active = images.status(i.taskImageId())
            .filter(st -> st == ImageRegistry.Status.ACTIVE).isPresent();
        if (!active) {
          images.delete(i.taskImageId());
        }
      } catch (RuntimeException e) {
        // Keep the task so a later round retries the image clean-up.
        LOG.warn("could not clean up the image of an abandoned snapshot; instance={} image={}",
            i.uuid(), i.taskImageId(), e);
        release(i);
        return;
      }
    }
    finish(i, Operation.CREATE_IMAGE, null, why);
  }

  private void reattach(InstanceEntity i, Operation op) {
    Optional<HostEntity> host = hostIfUp(i.host());
    if (host.isEmpty() || i.taskRequestId() == null) {
      release(i);
      return;
    }
    resume(i, op, host.get());
  }

  /** Follows the task's agent operation from here on, by its id. */
  private void resume(InstanceEntity i, Operation op, HostEntity host) {
    driver.resume(new AgentTask(op, i.taskRequestId(), specs.of(i), host.name(),
        host.address(), i.taskImageId(), 60));
  }

  private Optional<HostEntity> hostIfUp(String host) {
    try {
      return Optional.of(hosts.requireUp(host));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Gives the task back (owner none) so a later round retries it. */
  private void release(InstanceEntity i) {
    db.run(s -> instances.apply(s, StateUpdate.of(i.uuid())
        .expectTask(i.taskState()).expectOwner(lease.id()).owner(null)));
  }

  private void finish(InstanceEntity i, Operation op, VmState vm, String why) {
    StateUpdate u = StateUpdate.of(i.uuid()).expectTask(i.taskState()).expectOwner(lease.id())
        .task(null).clearTaskRequest();
    if (vm != null) {
      u.vm(vm);
    }
    db.run(s -> {
      boolean ok = instances.apply(s, u);
      if (ok && i.taskRequestId() != null && op != null) {
        actions.finishEvent(s, i.taskRequestId(), op.eventName(), false, why);
      }
      if (ok) {
        publisher.stateChangedIn(s, i.uuid(), i.taskState());
      }
    });
  }

  private static Optional<Operation> operationOf(TaskState task) {
    return Arrays.stream(Operation.values())
        .filter(o -> o.ownTaskStates().contains(task))
        .findFirst();
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
