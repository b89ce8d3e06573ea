package io.stratus.conductor.compute;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.support.grpc.Answered;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task followed to its end on its agent, over one call or, after the link broke,
 * several (each re-attaching by the operation id): the agent-call side of {@link
 * TaskDriver}. What the agent reports is applied by {@link TaskOutcomes}.
 *
 * <pre>
 *   update: step ──► applied / already applied (a replay) ─► next update
 *                    lost (the instance moved on) ─► cancel the call and the operation,
 *                                                    undo the task's own work
 *           progress ─► progress event;  result ─► kept for the end
 *   end:    completed with a result ─► success;  without ─► failure
 *           an error the agent answered with (trailer stratus-answered) ─► failure
 *           a broken call (no answer) ─► re-attach with backoff at the host's current
 *           address, for at most the re-attach window; then cancel and failure
 *           NOT_FOUND while attaching a snapshot ─► failure: the agent lost it
 * </pre>
 *
 * Callbacks of one call are serialized by gRPC and calls follow one another, so the state
 * here is touched by one thread at a time.
 */
final class TaskStream {
  private static final Logger LOG = LoggerFactory.getLogger(TaskStream.class);

  /** What a stream needs from its driver. */
  record Deps(AgentCalls calls, TaskOutcomes outcomes, StatePublisher publisher,
      ScheduledExecutorService retries, Duration reattachWindow,
      Function<String, Optional<String>> hostAddress) {}

  private final Deps ctx;
  private final Runnable onEnd;
  private final java.util.function.BooleanSupplier closing;
  private volatile AgentTask task;
  private volatile Attempt current;
  private TaskResult result;
  private volatile boolean done;
  private long brokenSinceNanos;
  private int breaks;
  private volatile boolean attaching;

  TaskStream(AgentTask task, Deps ctx, java.util.function.BooleanSupplier closing,
      Runnable onEnd) {
    this.task = task;
    this.ctx = ctx;
    this.closing = closing;
    this.onEnd = onEnd;
  }

  /** Opens a call: the operation itself, or (resumed, a snapshot) an attach to it. */
  void open(boolean resumed) {
    Attempt attempt = new Attempt();
    current = attempt;
    result = null;
    attaching = resumed && AgentCalls.attachOnly(task.operation());
    if (attaching) {
      ctx.calls().attach(task, attempt);
    } else {
      ctx.calls().send(task, attempt);
    }
  }

  /** Re-attaches after a break, at the address the host serves now (it may have moved). */
  private void reopen() {
    try {
      ctx.hostAddress().apply(task.host()).filter(a -> !a.equals(task.hostAddress()))
          .ifPresent(a -> task = task.withHostAddress(a));
    } catch (RuntimeException e) {
      LOG.warn("could not read the host's address, trying the last one; host={}", task.host(), e);
    }
    open(true);
  }

  /** Stops following without cleaning up (conductor shutdown): recovery re-attaches. */
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
        case TRANSITION -> step(update, call);
        case PROGRESS -> ctx.publisher().progress(task.uuid(), task.requestId(),
            update.getProgress().getBytesDone(), update.getProgress().getBytesTotal());
        case RESULT -> result = update.getResult();
        default -> LOG.warn("empty task update ignored; request={}", task.requestId());
      }
    }

    @Override
    public void onError(Throwable t) {
      if (done) {
        onEnd.run();
        return;
      }
      Status status = Status.fromThrowable(t);
      boolean answered = Answered.byServer(t);
      if (!answered && linkBroke(status)) {
        return;  // re-attaching
      }
      done = true;
      if (status.getCode() == Status.Code.NOT_FOUND && attaching) {
        fail(Status.UNAVAILABLE, describe(Status.UNAVAILABLE.withDescription("the agent lost"
            + " the operation (it restarted while the snapshot ran); nothing of it is kept")),
            false);
      } else {
        fail(status, describe(status), !answered);
      }
      onEnd.run();
    }

    @Override
    public void onCompleted() {
      if (done) {
        onEnd.run();
        return;
      }
      done = true;
      if (result == null) {
        fail(Status.INTERNAL, "agent ended the task without a result", false);
      } else {
        ctx.outcomes().succeeded(task, result);
      }
      onEnd.run();
    }
  }

  private void step(TaskUpdate update, ClientCallStreamObserver<Object> call) {
    var expected = TaskDriver.domainTaskState(update.getTransition().getExpected());
    var next = TaskDriver.domainTaskState(update.getTransition().getTaskState());
    if (ctx.outcomes().step(task, expected, next) == TaskOutcomes.Step.LOST) {
      done = true;
      call.cancel("task_state changed under the task", null);
      ctx.calls().cancel(task.host(), task.hostAddress(), task.requestId());
      ctx.outcomes().lost(task, expected, next);
      onEnd.run();
    }
  }

  /**
   * The call ended without an answer from the agent (the agent died, the link broke):
   * schedules a re-attach with backoff, unless the window is spent. Returns whether it
   * did; our own deadline and our own cancel are not a broken link.
   */
  private boolean linkBroke(Status status) {
    if (closing.getAsBoolean() || status.getCode() == Status.Code.DEADLINE_EXCEEDED
        || status.getCode() == Status.Code.CANCELLED) {
      return false;
    }
    long now = System.nanoTime();
    if (brokenSinceNanos == 0) {
      brokenSinceNanos = now;
    }
    if (now - brokenSinceNanos > ctx.reattachWindow().toNanos()) {
      LOG.warn("agent unreachable for the whole re-attach window, giving up; op={}"
          + " instance={} request={} window={}", task.operation(), task.uuid(),
          task.requestId(), ctx.reattachWindow());
      return false;
    }
    breaks++;
    long delayMs = Math.min(10_000L, 250L << Math.min(breaks - 1, 6));
    LOG.warn("agent stream broke, re-attaching; op={} instance={} request={} status={}"
        + " attempt={} in_ms={}", task.operation(), task.uuid(), task.requestId(), status,
        breaks, delayMs);
    try {
      ctx.retries().schedule(() -> Context.ROOT.run(this::reopen), delayMs,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      return false;  // shutting down
    }
    return true;
  }

  /**
   * Fails the task. {@code stillRunning}: the agent may still run the operation (its link
   * broke and never came back), so it is asked to cancel it. Nothing is written while
   * the conductor shuts down: recovery resolves the task.
   */
  private void fail(Status status, String message, boolean stillRunning) {
    if (closing.getAsBoolean()) {
      return;
    }
    if (stillRunning) {
      ctx.calls().cancel(task.host(), task.hostAddress(), task.requestId());
    }
    ctx.outcomes().failed(task, status, message);
  }

  private static String describe(Status status) {
    String d = status.getDescription();
    return status.getCode() + (d == null ? "" : ": " + d);
  }
}
