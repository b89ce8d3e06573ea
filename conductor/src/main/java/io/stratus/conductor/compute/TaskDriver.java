package io.stratus.conductor.compute;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.support.concurrent.Timers;
import io.stratus.support.grpc.Answered;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows an {@link AgentTask} on its host's agent and applies what the agent streams back:
 *
 * <pre>
 *   dispatch ──► TaskTransition ──legal step, CAS ok──► (next update)
 *                      │ CAS lost ──► cancel on the agent, undo own work (image), leave state
 *                TaskProgress ──► progress event
 *                TaskResult ──► end-state CAS (task_state → none, the operation's vm_state),
 *                               Success event, "*.end" notification
 *   stream broken (no answer from the agent) ──► re-attach by operation id with backoff,
 *        for at most the re-attach window; then cancel on the agent and fail
 *   agent's answer is an error, or no result ──► fail: image deleted unless active,
 *        task_state → none (the operation's failure vm_state), fault and Error event,
 *        "*.error" notification
 * </pre>
 *
 * Every state change is a compare-and-swap on the task state the agent expects, this
 * conductor's ownership and the task's request id, so two conductors, a concurrent delete
 * or a later request superseding this one are never overwritten. Replayed updates (after a
 * re-attach) that were applied before are recognised and skipped.
 */
public final class TaskDriver {
  private static final Logger LOG = LoggerFactory.getLogger(TaskDriver.class);

  private final Database db;
  private final VolumeStore volumes = new VolumeStore();
  private final InstanceStore instances;
  private final ActionLog actions;
  private final AgentCalls calls;
  private final SnapshotCompletion completion;
  private final StatePublisher publisher;
  private final Clock clock;
  private final String conductorId;
  private final Duration reattachWindow;
  private final java.util.function.Function<String, java.util.Optional<String>> hostAddress;
  private final Map<String, TaskStream> running = new ConcurrentHashMap<>();
  private final ScheduledExecutorService retries =
      Timers.daemon("task-reattach");
  private volatile boolean closing;

  public TaskDriver(
      Database db,
      InstanceStore instances,
      ActionLog actions,
      ImageRegistry images,
      AgentClients agents,
      StatePublisher publisher,
      Clock clock,
      Duration callTimeout,
      Duration reattachWindow,
      java.util.function.Function<String, java.util.Optional<String>> hostAddress,
      String conductorId) {
    this.db = db;
    this.instances = instances;
    this.actions = actions;
    this.calls = new AgentCalls(agents, callTimeout);
    this.completion = new SnapshotCompletion(db, images, agents, clock);
    this.publisher = publisher;
    this.clock = clock;
    this.reattachWindow = reattachWindow;
    this.hostAddress = hostAddress;
    this.conductorId = conductorId;
  }

  /**
   * Sends the task to its agent; returns at once, the stream is handled asynchronously.
   * The call is detached from the caller's gRPC context: the public request that caused
   * it returns (and its context is cancelled) long before the task ends.
   */
  public void dispatch(AgentTask task) {
    Context.ROOT.run(() -> start(task, false));
  }

  /**
   * Re-attaches to a task another conductor started, by its operation id: a snapshot only
   * if the agent still knows it (else it is failed and cleaned up), any other operation by
   * sending it again with the same id (idempotent). Updates applied before are skipped.
   */
  public void resume(AgentTask task) {
    Context.ROOT.run(() -> start(task, true));
  }

  private void start(AgentTask task, boolean resumed) {
    Operation op = task.operation();
    if (!resumed) {
      durably(s -> {
        actions.startEvent(s, task.requestId(), op.eventName());
        return null;
      });
      publisher.notify(task.uuid(), op.startNotification(), task.requestId(), payload(task));
    }
    LOG.info("{} task; op={} instance={} request={} agent={}",
        resumed ? "re-attaching" : "dispatching", op, task.uuid(), task.requestId(),
        task.hostAddress());
    TaskStream stream = new TaskStream(task);
    running.put(task.requestId(), stream);
    stream.open(resumed);
  }

  /** Asks the agent to cancel a running task. */
  public void cancel(String host, String hostAddress, String requestId) {
    Context.ROOT.run(() -> calls.cancel(host, hostAddress, requestId));
  }

  /** Request ids of tasks whose streams are still open. */
  public Set<String> runningRequests() {
    return Set.copyOf(running.keySet());
  }

  /** Waits until no task stream is open (tests, shutdown); {@code false} on timeout. */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!running.isEmpty()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  /**
   * Stops handling streams without cleaning up: on conductor shutdown the tasks keep
   * running on the agents and recovery (this or another conductor) re-attaches to them.
   */
  public void close() {
    closing = true;
    retries.shutdownNow();
    running.values().forEach(TaskStream::detach);
  }

  /**
   * How long applying an agent's update waits out a restarting PostgreSQL: the update
   * must not be dropped (the task would stay in its state with nobody following it).
   */
  static final Duration DB_PATIENCE = Duration.ofMinutes(2);

  private <T> T durably(java.util.function.Function<org.hibernate.Session, T> work) {
    return db.inTransactionRetrying(work, DB_PATIENCE);
  }

  private static Map<String, String> payload(AgentTask task) {
    Map<String, String> p = new HashMap<>();
    p.put("instance_uuid", task.uuid().toString());
    if (task.imageId() != null) {
      p.put("image_id", task.imageId());
    }
    return p;
  }

  static TaskState domainTaskState(io.stratus.proto.agent.v1.TaskState s) {
    return s == io.stratus.proto.agent.v1.TaskState.TASK_STATE_NONE
        ? null
        : TaskState.valueOf(s.name().substring("TASK_STATE_".length()));
  }

  static PowerState domainPowerState(io.stratus.proto.agent.v1.PowerState s) {
    return PowerState.valueOf(s.name().substring("POWER_STATE_".length()));
  }

  /**
   * One task followed to its end, over one agent call or, after the link broke, several
   * (each re-attaching by the operation id). Callbacks of one call are serialized by gRPC
   * and calls follow one another, so the state here is touched by one thread at a time.
   */
  private final class TaskStream {
    private volatile AgentTask task;
    private volatile Attempt current;
    private TaskResult result;
    private volatile boolean done;
    private long brokenSinceNanos;
    private int breaks;
    private volatile boolean attaching;

    TaskStream(AgentTask task) {
      this.task = task;
    }

    void open(boolean resumed) {
      Attempt attempt = new Attempt();
      current = attempt;
      result = null;
      attaching = resumed && AgentCalls.attachOnly(task.operation());
      if (attaching) {
        calls.attach(task, attempt);
      } else {
        calls.send(task, attempt);
      }
    }

    /** Re-attaches after a break, at the address the host serves now (it may have moved). */
    private void reopen() {
      try {
        hostAddress.apply(task.host()).filter(a -> !a.equals(task.hostAddress()))
            .ifPresent(a -> task = task.withHostAddress(a));
      } catch (RuntimeException e) {
        LOG.warn("could not read the host's address, trying the last one; host={}", task.host(), e);
      }
      open(true);
    }

    void detach() {
      done = true;
      Attempt a = current;
      if (a != null && a.call != null) {
        a.call.cancel("conductor shutting down", null);
      }
    }

    /** One agent call of the task. */
    private final class Attempt implements ClientResponseObserver<Object, TaskUpdate> {
      private ClientCallStreamObserver<Object> call;

      @Override
      public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
        this.call = requestStream;
      }

      @Override
      public void onNext(TaskUpdate update) {
        if (done) {
          return;
        }
        brokenSinceNanos = 0;  // the agent answers: the link works
        switch (update.getKindCase()) {
          case TRANSITION -> transition(update, call);
          case PROGRESS -> publisher.progress(task.uuid(), task.requestId(),
              update.getProgress().getBytesDone(), update.getProgress().getBytesTotal());
          case RESULT -> result = update.getResult();
          default -> LOG.warn("empty task update ignored; request={}", task.requestId());
        }
      }

      @Override
      public void onError(Throwable t) {
        if (done) {
          finished();
          return;
        }
        Status status = Status.fromThrowable(t);
        if (!Answered.byServer(t) && linkBroke(status)) {
          return;  // re-attaching
        }
        done = true;
        if (status.getCode() == Status.Code.NOT_FOUND && attaching) {
          fail(Status.UNAVAILABLE, describe(Status.UNAVAILABLE.withDescription("the agent lost"
              + " the operation (it restarted while the snapshot ran); nothing of it is kept")),
              false);
        } else {
          fail(status, describe(status), !Answered.byServer(t));
        }
        finished();
      }

      @Override
      public void onCompleted() {
        if (done) {
          finished();
          return;
        }
        done = true;
        if (result == null) {
          fail(Status.INTERNAL, "agent ended the task without a result", false);
        } else {
          succeed(result);
        }
        finished();
      }
    }

    /**
     * The call ended without an answer from the agent (the agent died, the link broke):
     * schedules a re-attach with backoff, unless the window is spent. Returns whether it
     * did; our own deadline and our own cancel are not a broken link.
     */
    private boolean linkBroke(Status status) {
      if (closing || status.getCode() == Status.Code.DEADLINE_EXCEEDED
          || status.getCode() == Status.Code.CANCELLED) {
        return false;
      }
      long now = System.nanoTime();
      if (brokenSinceNanos == 0) {
        brokenSinceNanos = now;
      }
      if (now - brokenSinceNanos > reattachWindow.toNanos()) {
        LOG.warn("agent unreachable for the whole re-attach window, giving up; op={}"
            + " instance={} request={} window={}", task.operation(), task.uuid(),
            task.requestId(), reattachWindow);
        return false;
      }
      breaks++;
      long delayMs = Math.min(10_000L, 250L << Math.min(breaks - 1, 6));
      LOG.warn("agent stream broke, re-attaching; op={} instance={} request={} status={}"
          + " attempt={} in_ms={}", task.operation(), task.uuid(), task.requestId(), status,
          breaks, delayMs);
      try {
        retries.schedule(() -> Context.ROOT.run(this::reopen), delayMs, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        return false;  // shutting down
      }
      return true;
    }

    private void finished() {
      running.remove(task.requestId());
    }

    private String describe(Status status) {
      String d = status.getDescription();
      return status.getCode() + (d == null ? "" : ": " + d);
    }

    private StateUpdate ownUpdate() {
      return StateUpdate.of(task.uuid()).expectOwner(conductorId).expectRequest(task.requestId());
    }

    private void transition(TaskUpdate update, ClientCallStreamObserver<Object> call) {
      Operation op = task.operation();
      TaskState expected = domainTaskState(update.getTransition().getExpected());
      TaskState next = domainTaskState(update.getTransition().getTaskState());
      if (!op.legalStep(expected, next)) {
        LOG.warn("agent sent a step the operation does not have, ignored; op={} request={}"
            + " from={} to={}", op, task.requestId(), TaskState.dbNameOf(expected),
            TaskState.dbNameOf(next));
        return;
      }
      boolean applied = durably(
          s -> instances.apply(s, ownUpdate().expectTask(expected).task(next)));
      if (applied) {
        publisher.stateChanged(task.uuid(), expected);
        return;
      }
      if (alreadyApplied(next)) {
        return;  // a replay after re-attaching: this step was applied before
      }
      // The instance moved on without us (deleted, or another request took over).
      done = true;
      call.cancel("task_state changed under the task", null);
      calls.cancel(task.host(), task.hostAddress(), task.requestId());
      LOG.warn("task state changed under the task, stopping it; op={} instance={} request={}"
              + " expected={} next={}", op, task.uuid(), task.requestId(),
          TaskState.dbNameOf(expected), TaskState.dbNameOf(next));
      undoOwnWork();
      durably(s -> {
        actions.finishEvent(s, task.requestId(), op.eventName(), false,
            "instance left task_state " + TaskState.dbNameOf(expected) + " while the task ran");
        return null;
      });
      finished();
    }

    private void succeed(TaskResult r) {
      Operation op = task.operation();
      if (op == Operation.CREATE_IMAGE) {
        String why = completion.complete(task, r);
        if (why != null) {
          fail(Status.DATA_LOSS, why, false);
          return;
        }
      }
      PowerState power = domainPowerState(r.getPowerState());
      StateUpdate u = ownUpdate().expectTask(op.ownTaskStates(), false)
          .task(null).clearTaskRequest().power(power);
      if (op.vmOnSuccess() != null) {
        u.vm(op.vmOnSuccess());
      }
      if (op == Operation.DELETE) {
        u.power(PowerState.NOSTATE).deletedAt(clock.instant());
      }
      TaskState before = currentTask();
      boolean applied = durably(s -> {
        boolean ok = instances.apply(s, u);
        if (ok && op == Operation.DELETE) {
          volumes.detachAll(s, task.uuid(), clock.instant());
        }
        actions.finishEvent(s, task.requestId(), op.eventName(), true,
            ok ? r.getDetails() : "finished, but the instance had moved on meanwhile");
        return ok;
      });
      if (applied) {
        publisher.stateChanged(task.uuid(), before);
      }
      Map<String, String> p = payload(task);
      if (r.hasSnapshot()) {
        p.put("size", Long.toString(r.getSnapshot().getSize()));
        p.put("live", Boolean.toString(r.getSnapshot().getLive()));
      }
      publisher.notify(task.uuid(), op.endNotification(), task.requestId(), p);
      LOG.info("task finished; op={} instance={} request={} power={}",
          op, task.uuid(), task.requestId(), power);
    }

    /**
     * Fails the task and undoes what it made. {@code stillRunning}: the agent may still run
     * the operation (its link broke and never came back), so it is asked to cancel it.
     */
    private void fail(Status status, String message, boolean stillRunning) {
      if (closing) {
        return; // leave it to recovery
      }
      Operation op = task.operation();
      LOG.warn("task failed, cleaning up; op={} instance={} request={} error={}",
          op, task.uuid(), task.requestId(), message);
      if (stillRunning) {
        calls.cancel(task.host(), task.hostAddress(), task.requestId());
      }
      undoOwnWork();
      StateUpdate u = ownUpdate().expectTask(op.ownTaskStates(), false)
          .task(null).clearTaskRequest();
      if (op.vmOnFailure() != null) {
        u.vm(op.vmOnFailure());
      }
      TaskState before = currentTask();
      boolean cancelled = status.getCode() == Status.Code.CANCELLED;
      boolean applied = durably(s -> {
        boolean ok = instances.apply(s, u);
        if (!cancelled) {
          actions.recordFault(s, task.uuid(), status.getCode().value(), message, op.name());
        }
        actions.finishEvent(s, task.requestId(), op.eventName(), false,
            cancelled ? "cancelled" : message);
        return ok;
      });
      if (applied) {
        publisher.stateChanged(task.uuid(), before);
      }
      Map<String, String> p = payload(task);
      p.put("error", message);
      publisher.notify(task.uuid(), op.name().toLowerCase(Locale.ROOT) + ".error",
          task.requestId(), p);
    }

    private void undoOwnWork() {
      if (task.operation() == Operation.CREATE_IMAGE) {
        completion.undo(task);
      }
    }

    /** Whether we still own the task and it is already at or past {@code next}. */
    private boolean alreadyApplied(TaskState next) {
      var current = durably(s -> instances.find(s, task.uuid()));
      if (current.isEmpty() || !conductorId.equals(current.get().taskOwner())
          || !task.requestId().equals(current.get().taskRequestId())) {
        return false;
      }
      return task.operation().atOrPast(current.get().taskState(), next);
    }

    private TaskState currentTask() {
      return durably(s -> instances.findAny(s, task.uuid()))
          .map(i -> i.taskState())
          .orElse(null);
    }
  }
}
