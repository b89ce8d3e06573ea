package io.stratus.agent.ops;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.support.concurrent.Timers;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each operation once, keyed by its id. A second call with the same id re-attaches
 * to the running operation (updates so far are replayed) or replays the finished one; the
 * work never runs twice. Callers going away do not stop the work; {@link #cancel} does, and
 * so does {@link #cancelOrphans}: an operation nobody has followed for the orphan timeout
 * (its conductor died and none re-attached) is cancelled, so its task cleans up after itself.
 *
 * <p>One mutating operation per instance: a new operation on an instance that has one
 * running is refused with ABORTED, except Destroy and Reboot, which supersede it (as they
 * do in the conductor's state machine): the running one is cancelled and awaited first.
 *
 * <p>Finished operations are kept (their transitions and result, without progress) for
 * {@link #RETAIN} and at most {@link #MAX_FINISHED} of them, the oldest forgotten first:
 * long enough for a conductor to re-attach after a restart (its calls time out after
 * agent.call.timeout, PT6H by default), bounded so an agent that runs for months does not
 * keep every operation it ever ran.
 */
public final class OperationRegistry implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OperationRegistry.class);

  /** How long a finished operation can still be re-attached to. */
  public static final java.time.Duration RETAIN = java.time.Duration.ofHours(24);
  /** At most this many finished operations are kept. */
  public static final int MAX_FINISHED = 10_000;

  /** RPCs that take over an instance from an operation still running on it. */
  private static final java.util.Set<String> SUPERSEDING = java.util.Set.of("Destroy", "Reboot");
  /** How long a superseding operation waits for the one it cancelled to end. */
  static final java.time.Duration SUPERSEDE_WAIT = java.time.Duration.ofSeconds(120);

  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  /** The running operation of each instance. Guarded by {@code this}. */
  private final Map<String, Operation> byInstance = new java.util.HashMap<>();
  private final Clock clock;
  private final java.time.Duration orphanTimeout;
  private java.util.concurrent.ScheduledExecutorService sweeper;

  /** A registry whose operations are cancelled after 2 minutes without a caller. */
  public OperationRegistry(Clock clock) {
    this(clock, java.time.Duration.ofMinutes(2));
  }

  public OperationRegistry(Clock clock, java.time.Duration orphanTimeout) {
    this.clock = clock;
    this.orphanTimeout = orphanTimeout;
    // stratus_agent_operations_running: the operations this agent runs now (weakly held)
    io.micrometer.core.instrument.Gauge.builder("stratus.agent.operations.running", this,
            r -> r.running().size())
        .description("operations the agent runs now")
        .register(io.micrometer.core.instrument.Metrics.globalRegistry);
  }

  /**
   * Attaches the caller to operation {@code id}, starting {@code task} on a new thread if
   * the id is new. {@code task} is made lazily so a re-attach builds nothing.
   */
  public void run(String id, String rpc, String instanceUuid, StreamObserver<TaskUpdate> caller,
      Supplier<Task> task) {
    var observer = (ServerCallStreamObserver<TaskUpdate>) caller;
    if (id.isEmpty()) {
      caller.onError(GrpcErrors.toStatus(ApiException.invalidArgument("operation_id", "is required")));
      return;
    }
    Operation known = operations.get(id);
    if (known != null) {
      reattach(known, rpc, observer);
      return;
    }
    Task work;
    try {
      work = task.get();  // validates the request before anything is registered
    } catch (RuntimeException e) {
      caller.onError(GrpcErrors.toStatus(e));
      return;
    }
    Operation fresh = new Operation(id, rpc, instanceUuid, clock);
    Operation superseded;
    synchronized (this) {
      known = operations.get(id);
      if (known == null) {
        superseded = busyWith(instanceUuid);
        if (superseded != null && !SUPERSEDING.contains(rpc)) {
          caller.onError(GrpcErrors.toStatus(ApiException.aborted("instance " + instanceUuid
              + " is busy with " + superseded.rpc + " operation " + superseded.id
              + "; one operation per instance at a time")));
          return;
        }
        operations.put(id, fresh);
        byInstance.put(instanceUuid, fresh);
      } else {
        superseded = null;
      }
    }
    if (known != null) {
      reattach(known, rpc, observer);
      return;
    }
    fresh.attach(observer);
    String requestId = io.stratus.support.grpc.RequestIds.current();
    Thread.ofVirtual().name("op-" + rpc + "-" + id).start(() -> {
      // every log line of the operation names it, its instance and the conductor's request
      org.slf4j.MDC.put("operation_id", id);
      org.slf4j.MDC.put("instance", instanceUuid);
      io.stratus.support.grpc.RequestIds.set(requestId);
      try {
        if (superseded == null || supersede(fresh, superseded)) {
          execute(fresh, work);
        }
        synchronized (this) {
          byInstance.remove(instanceUuid, fresh);
        }
        prune();
      } finally {
        io.stratus.support.grpc.RequestIds.set(null);
        org.slf4j.MDC.clear();
      }
    });
  }

  /**
   * Attaches the caller to an operation that exists, without starting anything: a
   * conductor following an operation another one started. NOT_FOUND when the agent does
   * not know it (it was never started here, was forgotten, or the agent restarted since).
   */
  public void attach(String id, StreamObserver<TaskUpdate> caller) {
    if (id.isEmpty()) {
      caller.onError(GrpcErrors.toStatus(ApiException.invalidArgument("operation_id", "is required")));
      return;
    }
    Operation op = operations.get(id);
    if (op == null) {
      caller.onError(GrpcErrors.toStatus(ApiException.notFound("no operation " + id
          + " on this agent (never started here, forgotten, or lost in an agent restart)")));
      return;
    }
    LOG.info("attaching to operation; op={} rpc={} instance={}", id, op.rpc, op.instanceUuid);
    op.attach((ServerCallStreamObserver<TaskUpdate>) caller);
  }

  private void reattach(Operation op, String rpc, ServerCallStreamObserver<TaskUpdate> caller) {
    if (!op.rpc.equals(rpc)) {
      caller.onError(GrpcErrors.toStatus(ApiException.invalidArgument("operation_id",
          op.id + " already names a " + op.rpc + " operation")));
      return;
    }
    LOG.info("re-attaching to operation; op={} rpc={} instance={}", op.id, rpc, op.instanceUuid);
    op.attach(caller);
  }

  /** The operation running on an instance now, if any. Caller holds {@code this}. */
  private Operation busyWith(String instanceUuid) {
    Operation running = byInstance.get(instanceUuid);
    return running == null || running.finished() ? null : running;
  }

  /** Cancels the operation {@code next} takes over from and waits for it to end. */
  private boolean supersede(Operation next, Operation previous) {
    LOG.info("superseding operation; op={} rpc={} supersedes={} ({}) instance={}", next.id,
        next.rpc, previous.id, previous.rpc, next.instanceUuid);
    previous.requestCancel();
    try {
      if (previous.awaitFinished(SUPERSEDE_WAIT)) {
        return true;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    next.finish(null, GrpcErrors.toStatus(ApiException.aborted(previous.rpc + " operation "
        + previous.id + " on instance " + next.instanceUuid + " did not stop within "
        + SUPERSEDE_WAIT)).getStatus());
    return false;
  }

  private void execute(Operation op, Task work) {
    LOG.info("operation started; op={} rpc={} instance={}", op.id, op.rpc, op.instanceUuid);
    try {
      TaskResult result = work.run(op);
      op.finish(op.update().setResult(result).build(), Status.OK);
      LOG.info("operation finished; op={} rpc={} instance={}", op.id, op.rpc, op.instanceUuid);
    } catch (Exception e) {
      Status s = GrpcErrors.toStatus(AgentErrors.of(op.rpc, e)).getStatus();
      op.finish(null, s);
      if (s.getCode() == Status.Code.CANCELLED) {
        LOG.info("operation cancelled; op={} instance={}", op.id, op.instanceUuid);
      } else {
        LOG.warn("operation failed; op={} rpc={} instance={} error={}", op.id, op.rpc,
            op.instanceUuid, String.valueOf(e.getMessage()), e);
      }
    }
  }

  /** Cancels a running operation; NOT_FOUND when unknown or already finished. */
  public void cancel(String id) {
    Operation op = operations.get(id);
    if (op == null || !op.requestCancel()) {
      throw ApiException.notFound("no running operation " + id);
    }
  }

  /**
   * Cancels running operations that no caller has followed for the orphan timeout; their
   * tasks clean up as on any cancel. Returns how many were cancelled. Called periodically.
   */
  public int cancelOrphans() {
    java.time.Instant cutoff = clock.instant().minus(orphanTimeout);
    int cancelled = 0;
    for (Operation op : operations.values()) {
      java.time.Instant since = op.orphanedSince();
      if (since != null && since.isBefore(cutoff) && op.requestCancel()) {
        LOG.warn("cancelling operation nobody follows; op={} rpc={} instance={} orphaned_since={}",
            op.id, op.rpc, op.instanceUuid, since);
        cancelled++;
      }
    }
    return cancelled;
  }

  /** Forgets finished operations older than {@link #RETAIN}, and the oldest past the cap. */
  void prune() {
    java.time.Instant cutoff = clock.instant().minus(RETAIN);
    operations.values().removeIf(o -> o.finished() && o.finishedAt().isBefore(cutoff));
    List<Operation> finished = operations.values().stream().filter(Operation::finished)
        .sorted(java.util.Comparator.comparing(Operation::finishedAt)).toList();
    for (int i = 0; i < finished.size() - MAX_FINISHED; i++) {
      operations.remove(finished.get(i).id, finished.get(i));
    }
  }

  /** How many operations are kept, running and finished. */
  int size() {
    return operations.size();
  }

  /** Runs {@link #cancelOrphans} every {@code every} until {@link #close}. */
  public synchronized void startOrphanSweep(java.time.Duration every) {
    if (sweeper == null) {
      sweeper = Timers.daemon("orphan-sweep");
      sweeper.scheduleWithFixedDelay(this::safeSweep, every.toMillis(), every.toMillis(),
          java.util.concurrent.TimeUnit.MILLISECONDS);
    }
  }

  private void safeSweep() {
    try {
      cancelOrphans();
    } catch (RuntimeException e) {
      LOG.warn("orphan sweep failed; it runs again", e);
    }
  }

  /** Stops the orphan sweep; running operations go on. */
  @Override
  public synchronized void close() {
    if (sweeper != null) {
      sweeper.shutdownNow();
    }
  }

  /** Ids of operations still running. */
  public List<String> running() {
    return operations.values().stream().filter(o -> !o.finished()).map(o -> o.id).toList();
  }
}
