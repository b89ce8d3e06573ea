package io.stratus.agent.ops;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.stratus.proto.agent.v1.TaskProgress;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskTransition;
import io.stratus.proto.agent.v1.TaskUpdate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One operation keyed by its id: the updates it sent so far (replayed to every caller that
 * attaches), its final status, and the callers attached now. Callers come and go; the work
 * goes on until it ends or CancelOperation stops it.
 */
final class Operation implements TaskContext {
  final String id;
  final String rpc;
  final String instanceUuid;
  private final Clock clock;
  private final List<TaskUpdate> updates = new ArrayList<>();
  private final List<ServerCallStreamObserver<TaskUpdate>> callers = new ArrayList<>();
  private final AtomicBoolean cancel = new AtomicBoolean();
  private Status finalStatus;
  private java.time.Instant finishedAt;
  private long lastProgressNanos;
  /** Since when no caller follows the running operation; null while one does. */
  private java.time.Instant orphanedSince;

  Operation(String id, String rpc, String instanceUuid, Clock clock) {
    this.id = id;
    this.rpc = rpc;
    this.instanceUuid = instanceUuid;
    this.clock = clock;
    this.orphanedSince = clock.instant();
  }

  /** Attaches a caller: replays what happened, then follows (or ends it if finished). */
  synchronized void attach(ServerCallStreamObserver<TaskUpdate> caller) {
    for (TaskUpdate u : updates) {
      caller.onNext(u);
    }
    if (finalStatus != null) {
      end(caller, finalStatus);
    } else {
      callers.add(caller);
      orphanedSince = null;
      caller.setOnCancelHandler(() -> detach(caller));
    }
  }

  private synchronized void detach(ServerCallStreamObserver<TaskUpdate> caller) {
    callers.remove(caller);
    if (callers.isEmpty() && orphanedSince == null) {
      orphanedSince = clock.instant();
    }
  }

  /** Since when a running operation has had no caller; null if followed or finished. */
  synchronized java.time.Instant orphanedSince() {
    return finalStatus == null ? orphanedSince : null;
  }

  /** Waits until the operation ended; false on timeout. */
  synchronized boolean awaitFinished(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (finalStatus == null) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      wait(java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(left) + 1);
    }
    return true;
  }

  synchronized boolean finished() {
    return finalStatus != null;
  }

  /** When it finished; null while it runs. */
  synchronized java.time.Instant finishedAt() {
    return finishedAt;
  }

  /** How many updates a caller attaching now is replayed. */
  synchronized int retainedUpdates() {
    return updates.size();
  }

  /** Asks the work to stop; false if it already ended. */
  synchronized boolean requestCancel() {
    if (finalStatus != null) {
      return false;
    }
    cancel.set(true);
    return true;
  }

  private synchronized void publish(TaskUpdate u) {
    updates.add(u);
    for (ServerCallStreamObserver<TaskUpdate> c : List.copyOf(callers)) {
      try {
        if (!c.isCancelled()) {
          c.onNext(u);
        }
      } catch (RuntimeException e) {
        detach(c);
      }
    }
  }

  synchronized void finish(TaskUpdate result, Status status) {
    // A finished operation is kept for re-attaching callers: its transitions and result,
    // not the progress it reported on the way (thousands of messages for a big disk).
    updates.removeIf(TaskUpdate::hasProgress);
    if (result != null) {
      updates.add(result);
    }
    finalStatus = status;
    finishedAt = clock.instant();
    for (ServerCallStreamObserver<TaskUpdate> c : callers) {
      if (result != null && !c.isCancelled()) {
        c.onNext(result);
      }
      end(c, status);
    }
    callers.clear();
    notifyAll();
  }

  private static void end(ServerCallStreamObserver<TaskUpdate> caller, Status status) {
    if (caller.isCancelled()) {
      return;
    }
    if (status.isOk()) {
      caller.onCompleted();
    } else {
      caller.onError(status.asRuntimeException());
    }
  }

  TaskUpdate.Builder update() {
    var now = clock.instant();
    return TaskUpdate.newBuilder().setOperationId(id)
        .setTime(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()));
  }

  @Override
  public void transition(TaskState expected, TaskState next, String step) {
    publish(update().setTransition(TaskTransition.newBuilder()
        .setExpected(expected).setTaskState(next).setStep(step)).build());
  }

  @Override
  public void progress(long done, long total) {
    long now = System.nanoTime();
    // At most ~4 progress messages a second, plus the last one.
    if (done < total && now - lastProgressNanos < 250_000_000L) {
      return;
    }
    lastProgressNanos = now;
    publish(update().setProgress(TaskProgress.newBuilder().setBytesDone(done).setBytesTotal(total))
        .build());
  }

  @Override
  public void checkCancelled() {
    if (cancel.get()) {
      throw new CancelledException(id);
    }
  }

  @Override
  public boolean cancelRequested() {
    return cancel.get();
  }
}
