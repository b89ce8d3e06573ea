package io.stratus.agent.ops;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskUpdate;
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
 * work never runs twice. Callers going away do not stop the work; {@link #cancel} does.
 * Finished operations are kept (their transitions and result, without progress) for
 * {@link #RETAIN} and at most {@link #MAX_FINISHED} of them, the oldest forgotten first:
 * long enough for a conductor to re-attach after a restart (its calls time out after
 * agent.call.timeout, PT6H by default), bounded so an agent that runs for months does not
 * keep every operation it ever ran.
 */
public final class OperationRegistry {
  private static final Logger LOG = LoggerFactory.getLogger(OperationRegistry.class);

  /** How long a finished operation can still be re-attached to. */
  public static final java.time.Duration RETAIN = java.time.Duration.ofHours(24);
  /** At most this many finished operations are kept. */
  public static final int MAX_FINISHED = 10_000;

  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  private final Clock clock;

  public OperationRegistry(Clock clock) {
    this.clock = clock;
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
    Operation fresh = new Operation(id, rpc, instanceUuid, clock);
    Operation op = operations.putIfAbsent(id, fresh);
    if (op != null && !op.rpc.equals(rpc)) {
      caller.onError(GrpcErrors.toStatus(ApiException.invalidArgument("operation_id",
          id + " already names a " + op.rpc + " operation")));
      return;
    }
    if (op != null) {
      LOG.info("re-attaching to operation; op={} rpc={} instance={}", id, rpc, instanceUuid);
      op.attach(observer);
      return;
    }
    Task work;
    try {
      work = task.get();
    } catch (RuntimeException e) {
      operations.remove(id);
      caller.onError(GrpcErrors.toStatus(e));
      return;
    }
    fresh.attach(observer);
    Thread.ofVirtual().name("op-" + rpc + "-" + id).start(() -> {
      execute(fresh, work);
      prune();
    });
  }

  private void execute(Operation op, Task work) {
    LOG.info("operation started; op={} rpc={} instance={}", op.id, op.rpc, op.instanceUuid);
    try {
      TaskResult result = work.run(op);
      op.finish(op.update().setResult(result).build(), Status.OK);
      LOG.info("operation finished; op={} rpc={} instance={}", op.id, op.rpc, op.instanceUuid);
    } catch (CancelledException e) {
      op.finish(null, Status.CANCELLED.withDescription(e.getMessage()));
      LOG.info("operation cancelled; op={} instance={}", op.id, op.instanceUuid);
    } catch (HypervisorException e) {
      Status s = e.kind() == HypervisorException.Kind.NO_DOMAIN
          ? Status.NOT_FOUND : Status.INTERNAL;
      op.finish(null, s.withDescription(e.getMessage()));
      LOG.warn("operation failed; op={} rpc={} instance={} error={}", op.id, op.rpc,
          op.instanceUuid, e.getMessage());
    } catch (Exception e) {
      Status s = GrpcErrors.toStatus(e).getStatus();
      if (s.getCode() == Status.Code.INTERNAL) {
        s = Status.INTERNAL.withDescription(op.rpc + " failed: " + e.getMessage());
      }
      op.finish(null, s);
      LOG.warn("operation failed; op={} rpc={} instance={} error={}", op.id, op.rpc,
          op.instanceUuid, String.valueOf(e.getMessage()), e);
    }
  }

  /** Cancels a running operation; NOT_FOUND when unknown or already finished. */
  public void cancel(String id) {
    Operation op = operations.get(id);
    if (op == null || !op.requestCancel()) {
      throw ApiException.notFound("no running operation " + id);
    }
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

  /** Ids of operations still running. */
  public List<String> running() {
    return operations.values().stream().filter(o -> !o.finished()).map(o -> o.id).toList();
  }
}
