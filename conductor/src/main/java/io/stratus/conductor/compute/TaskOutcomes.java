package io.stratus.conductor.compute;

import io.grpc.Status;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.proto.agent.v1.TaskResult;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.hibernate.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an agent's task does to the conductor's records: each step, the success and the
 * failure, applied as compare-and-swaps on the expected task state, this conductor's
 * ownership and the task's request id, with the action events, faults, notifications and
 * the snapshot's completion or undo ({@link SnapshotCompletion}). The end states are the
 * operation's data ({@link Operation#vmOnSuccess}, {@link Operation#vmOnFailure}); a step
 * the operation does not have is refused. Every write waits out a restarting database
 * ({@link #DB_PATIENCE}): an agent's report must not be dropped.
 */
final class TaskOutcomes {
  private static final Logger LOG = LoggerFactory.getLogger(TaskOutcomes.class);
  /** How long applying an agent's update waits out a restarting PostgreSQL. */
  static final Duration DB_PATIENCE = Duration.ofMinutes(2);

  /** What became of a step the agent reported. */
  enum Step { APPLIED, ALREADY_APPLIED, ILLEGAL, LOST }

  private final Database db;
  private final VolumeStore volumes = new VolumeStore();
  private final InstanceStore instances;
  private final ActionLog actions;
  private final SnapshotCompletion completion;
  private final StatePublisher publisher;
  private final Clock clock;
  private final String conductorId;

  TaskOutcomes(Database db, InstanceStore instances, ActionLog actions,
      SnapshotCompletion completion, StatePublisher publisher, Clock clock, String conductorId) {
    this.db = db;
    this.instances = instances;
    this.actions = actions;
    this.completion = completion;
    this.publisher = publisher;
    this.clock = clock;
    this.conductorId = conductorId;
  }

  private <T> T durably(Function<Session, T> work) {
    return db.inTransactionRetrying(work, DB_PATIENCE);
  }

  private StateUpdate ownUpdate(AgentTask task) {
    return StateUpdate.of(task.uuid()).expectOwner(conductorId).expectRequest(task.requestId());
  }

  /** Records that the task started on its host (action event, notification). */
  void started(AgentTask task) {
    Operation op = task.operation();
    durably(s -> {
      actions.startEvent(s, task.requestId(), op.eventName());
      publisher.notifyIn(s, task.uuid(), op.startNotification(), task.requestId(),
          payload(task));
      return null;
    });
  }

  /** Applies a step the agent reported. */
  Step step(AgentTask task, TaskState expected, TaskState next) {
    Operation op = task.operation();
    if (!op.legalStep(expected, next)) {
      LOG.warn("agent sent a step the operation does not have, ignored; op={} request={}"
          + " from={} to={}", op, task.requestId(), TaskState.dbNameOf(expected),
          TaskState.dbNameOf(next));
      return Step.ILLEGAL;
    }
    if (durably(s -> {
      var now = instances.swap(s, ownUpdate(task).expectTask(expected).task(next));
      now.ifPresent(st -> publisher.stateChangedIn(s, task.uuid(), st, expected));
      return now.isPresent();
    })) {
      return Step.APPLIED;
    }
    var current = durably(s -> instances.find(s, task.uuid()));
    if (current.isPresent() && conductorId.equals(current.get().taskOwner())
        && task.requestId().equals(current.get().taskRequestId())
        && op.atOrPast(current.get().taskState(), next)) {
      return Step.ALREADY_APPLIED;  // a replay after re-attaching
    }
    return Step.LOST;
  }

  /**
   * The instance moved on without the task (deleted, or another request took over): the
   * task's own work is undone, the state left as it is.
   */
  void lost(AgentTask task, TaskState expected, TaskState next) {
    Operation op = task.operation();
    LOG.warn("task state changed under the task, stopping it; op={} instance={} request={}"
            + " expected={} next={}", op, task.uuid(), task.requestId(),
        TaskState.dbNameOf(expected), TaskState.dbNameOf(next));
    undo(task);
    durably(s -> {
      actions.finishEvent(s, task.requestId(), op.eventName(), false,
          "instance left task_state " + TaskState.dbNameOf(expected) + " while the task ran");
      return null;
    });
  }

  /** Applies the agent's result: the snapshot completed first, then the end state. */
  void succeeded(AgentTask task, TaskResult r) {
    Operation op = task.operation();
    if (op == Operation.CREATE_IMAGE) {
      String why = completion.complete(task, r);
      if (why != null) {
        failed(task, Status.DATA_LOSS, why);
        return;
      }
    }
    PowerState power = TaskDriver.domainPowerState(r.getPowerState());
    StateUpdate u = ownUpdate(task).expectTask(op.ownTaskStates(), false)
        .task(null).clearTaskRequest().power(power);
    if (op.vmOnSuccess() != null) {
      u.vm(op.vmOnSuccess());
    }
    if (op == Operation.DELETE) {
      u.power(PowerState.NOSTATE).deletedAt(clock.instant());
    }
    Map<String, String> p = payload(task);
    if (r.hasSnapshot()) {
      p.put("size", Long.toString(r.getSnapshot().getSize()));
      p.put("live", Boolean.toString(r.getSnapshot().getLive()));
    }
    durably(s -> {
      TaskState before = currentTask(s, task);
      var now = instances.swap(s, u);
      boolean ok = now.isPresent();
      if (ok && op == Operation.DELETE) {
        volumes.detachAll(s, task.uuid(), clock.instant());
      }
      now.ifPresent(st -> publisher.stateChangedIn(s, task.uuid(), st, before));
      actions.finishEvent(s, task.requestId(), op.eventName(), true,
          ok ? r.getDetails() : "finished, but the instance had moved on meanwhile");
      publisher.notifyIn(s, task.uuid(), op.endNotification(), task.requestId(), p);
      return ok;
    });
    LOG.info("task finished; op={} instance={} request={} power={}",
        op, task.uuid(), task.requestId(), power);
  }

  /** Fails the task: its work undone, task_state cleared, fault and Error event recorded. */
  void failed(AgentTask task, Status status, String message) {
    Operation op = task.operation();
    LOG.warn("task failed, cleaning up; op={} instance={} request={} error={}",
        op, task.uuid(), task.requestId(), message);
    undo(task);
    StateUpdate u = ownUpdate(task).expectTask(op.ownTaskStates(), false)
        .task(null).clearTaskRequest();
    if (op.vmOnFailure() != null) {
      u.vm(op.vmOnFailure());
    }
    boolean cancelled = status.getCode() == Status.Code.CANCELLED;
    Map<String, String> p = payload(task);
    p.put("error", message);
    durably(s -> {
      TaskState before = currentTask(s, task);
      var now = instances.swap(s, u);
      boolean ok = now.isPresent();
      now.ifPresent(st -> publisher.stateChangedIn(s, task.uuid(), st, before));
      if (!cancelled) {
        actions.recordFault(s, task.uuid(), status.getCode().value(), message, op.name());
      }
      actions.finishEvent(s, task.requestId(), op.eventName(), false,
          cancelled ? "cancelled" : message);
      publisher.notifyIn(s, task.uuid(), op.name().toLowerCase(Locale.ROOT) + ".error",
          task.requestId(), p);
      return ok;
    });
  }

  private void undo(AgentTask task) {
    if (task.operation() == Operation.CREATE_IMAGE) {
      completion.undo(task);
    }
  }

  private TaskState currentTask(Session s, AgentTask task) {
    return instances.state(s, task.uuid()).map(InstanceStore.State::task).orElse(null);
  }

  private static Map<String, String> payload(AgentTask task) {
    Map<String, String> p = new HashMap<>();
    p.put("instance_uuid", task.uuid().toString());
    if (task.imageId() != null) {
      p.put("image_id", task.imageId());
    }
    return p;
  }
}
