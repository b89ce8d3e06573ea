package io.stratus.conductor.compute;

import io.grpc.Context;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.support.concurrent.Timers;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends {@link AgentTask}s to their hosts' agents and follows each to its end: one
 * {@link TaskStream} per task (the agent calls: the operation, re-attaching by its id after
 * a broken link, for at most the re-attach window), whose reports {@link TaskOutcomes}
 * applies to the records (compare-and-swaps on the expected task state, this conductor's
 * ownership and the request id; end states from the operation's data; the snapshot's
 * completion or undo). The requests themselves are built by {@link AgentCalls}.
 */
public final class TaskDriver {
  private static final Logger LOG = LoggerFactory.getLogger(TaskDriver.class);

  private final AgentCalls calls;
  private final TaskOutcomes outcomes;
  private final TaskStream.Deps deps;
  private final ScheduledExecutorService retries = Timers.daemon("task-reattach");
  private final Map<String, TaskStream> running = new ConcurrentHashMap<>();
  private volatile boolean closing;

  /**
   * @param callTimeout the deadline of one agent call
   * @param reattachWindow how long a task whose stream broke tries to re-attach
   * @param hostAddress a host's current agent address (it may re-register elsewhere)
   * @param conductorId this conductor's lease id, the owner of the tasks it drives
   */
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
      Function<String, Optional<String>> hostAddress,
      String conductorId) {
    this.calls = new AgentCalls(agents, callTimeout);
    this.outcomes = new TaskOutcomes(db, instances, actions,
        new SnapshotCompletion(db, images, agents, clock), publisher, clock, conductorId);
    this.deps = new TaskStream.Deps(calls, outcomes, publisher, retries, reattachWindow,
        hostAddress);
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
    if (!resumed) {
      outcomes.started(task);
    }
    LOG.info("{} task; op={} instance={} request={} agent={}",
        resumed ? "re-attaching" : "dispatching", task.operation(), task.uuid(),
        task.requestId(), task.hostAddress());
    TaskStream stream = new TaskStream(task, deps, () -> closing,
        () -> running.remove(task.requestId()));
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

  static TaskState domainTaskState(io.stratus.proto.agent.v1.TaskState s) {
    return s == io.stratus.proto.agent.v1.TaskState.TASK_STATE_NONE
        ? null
        : TaskState.valueOf(s.name().substring("TASK_STATE_".length()));
  }

  static PowerState domainPowerState(io.stratus.proto.agent.v1.PowerState s) {
    return PowerState.valueOf(s.name().substring("POWER_STATE_".length()));
  }
}
