package io.stratus.agent.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.stub.ServerCallStreamObserver;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskUpdate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The agent's operations: what it keeps of finished ones (their transitions and result for
 * a caller that re-attaches, not the progress on the way, for {@link OperationRegistry#RETAIN},
 * then nothing), attaching by id, one operation per instance, and the cancel of operations
 * nobody follows.
 */
class OperationRegistryTest {
  /** A clock the test moves. */
  static final class MovableClock extends Clock {
    volatile Instant now = Instant.parse("2026-12-06T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  /** Collects what a caller of the operation receives. */
  static final class Caller extends ServerCallStreamObserver<TaskUpdate> {
    final List<TaskUpdate> updates = new CopyOnWriteArrayList<>();
    final CompletableFuture<Void> done = new CompletableFuture<>();

    @Override
    public void onNext(TaskUpdate value) {
      updates.add(value);
    }

    @Override
    public void onError(Throwable t) {
      done.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      done.complete(null);
    }

    private volatile Runnable onCancel;
    private volatile boolean cancelled;

    /** The caller goes away, as a broken connection or a dead conductor does. */
    void goAway() {
      cancelled = true;
      if (onCancel != null) {
        onCancel.run();
      }
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {
      this.onCancel = onCancelHandler;
    }

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
      return true;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}

    long progress() {
      return updates.stream().filter(TaskUpdate::hasProgress).count();
    }
  }

  final MovableClock clock = new MovableClock();
  final OperationRegistry registry = new OperationRegistry(clock);
  final AtomicInteger runs = new AtomicInteger();

  private Task copying() {
    return ctx -> {
      runs.incrementAndGet();
      ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
          TaskState.TASK_STATE_IMAGE_UPLOADING, "copying");
      for (int i = 1; i <= 5; i++) {
        Thread.sleep(300);  // progress is sent at most ~4 times a second
        ctx.progress(i, 5);
      }
      return TaskResult.getDefaultInstance();
    };
  }

  private Caller run(String id) throws Exception {
    Caller c = new Caller();
    registry.run(id, "Snapshot", "6f1c0d55-0000-4000-8000-000000000001", c, this::copying);
    c.done.get(30, TimeUnit.SECONDS);
    return c;
  }

  @Test
  void aFinishedOperationReplaysItsTransitionsAndResultButNotItsProgress() throws Exception {
    Caller first = run("op-1");
    assertTrue(first.progress() >= 2, "the first caller follows the progress: " + first.updates);

    Caller again = run("op-1");
    assertEquals(1, runs.get(), "the work ran once");
    assertEquals(0, again.progress());
    assertTrue(again.updates.get(0).hasTransition());
    assertTrue(again.updates.get(again.updates.size() - 1).hasResult());
    assertEquals(2, again.updates.size());
  }

  /** The operation's thread names it, its instance and the conductor's request in the MDC. */
  @Test
  void theOperationsLogLinesCarryItsIdsAndTheConductorsRequestId() throws Exception {
    java.util.concurrent.CompletableFuture<java.util.Map<String, String>> seen =
        new java.util.concurrent.CompletableFuture<>();
    Caller c = new Caller();
    io.stratus.support.grpc.RequestIds.withId("req-from-the-conductor",
        () -> registry.run("op-ids", "Snapshot", INSTANCE, c, () -> ctx -> {
          seen.complete(java.util.Map.of(
              "operation_id", String.valueOf(org.slf4j.MDC.get("operation_id")),
              "instance", String.valueOf(org.slf4j.MDC.get("instance")),
              "request_id", String.valueOf(org.slf4j.MDC.get("request_id")),
              "current", String.valueOf(io.stratus.support.grpc.RequestIds.current())));
          return TaskResult.getDefaultInstance();
        }));
    c.done.get(30, TimeUnit.SECONDS);
    assertEquals(java.util.Map.of("operation_id", "op-ids", "instance", INSTANCE,
        "request_id", "req-from-the-conductor", "current", "req-from-the-conductor"),
        seen.get(10, TimeUnit.SECONDS));
  }

  @Test
  void finishedOperationsAreForgottenAfterTheRetention() throws Exception {
    run("old");
    assertEquals(1, registry.size());
    clock.now = clock.now.plus(OperationRegistry.RETAIN).plus(Duration.ofMinutes(1));
    run("new");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (registry.size() > 1 && System.nanoTime() < deadline) {
      Thread.sleep(20);  // pruning follows the new operation's end on its thread
    }
    assertEquals(1, registry.size(), "only the new operation is kept");
    assertEquals(2, runs.get());
  }

  static final String INSTANCE = "6f1c0d55-0000-4000-8000-000000000001";

  /** Runs until cancelled (checks every 20 ms), then throws as tasks do. */
  private Task untilCancelled() {
    return ctx -> {
      runs.incrementAndGet();
      ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
          TaskState.TASK_STATE_IMAGE_UPLOADING, "copying");
      for (int i = 0; i < 3000; i++) {
        ctx.checkCancelled();
        Thread.sleep(20);
      }
      return TaskResult.getDefaultInstance();
    };
  }

  private static io.grpc.Status.Code code(Caller c) throws Exception {
    try {
      c.done.get(30, TimeUnit.SECONDS);
      return io.grpc.Status.Code.OK;
    } catch (java.util.concurrent.ExecutionException e) {
      return io.grpc.Status.fromThrowable(e.getCause()).getCode();
    }
  }

  @Test
  void attachFollowsARunningOperationAndNeverStartsOne() throws Exception {
    Caller unknown = new Caller();
    registry.attach("nobody-started-this", unknown);
    assertEquals(io.grpc.Status.Code.NOT_FOUND, code(unknown));

    Caller first = new Caller();
    registry.run("op-a", "Snapshot", INSTANCE, first, this::untilCancelled);
    Caller follower = new Caller();
    registry.attach("op-a", follower);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (follower.updates.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(follower.updates.get(0).hasTransition(), "the transition so far is replayed");
    registry.cancel("op-a");
    assertEquals(io.grpc.Status.Code.CANCELLED, code(follower));
    assertEquals(io.grpc.Status.Code.CANCELLED, code(first));
    assertEquals(1, runs.get());
  }

  @Test
  void aSecondOperationOnABusyInstanceIsRefusedButDestroySupersedesIt() throws Exception {
    Caller snapshot = new Caller();
    registry.run("snap", "Snapshot", INSTANCE, snapshot, this::untilCancelled);

    Caller powerOff = new Caller();
    registry.run("off", "PowerOff", INSTANCE, powerOff, this::copying);
    assertEquals(io.grpc.Status.Code.ABORTED, code(powerOff));
    Caller elsewhere = new Caller();
    registry.run("other", "PowerOff", "6f1c0d55-0000-4000-8000-000000000002", elsewhere,
        this::copying);
    assertEquals(io.grpc.Status.Code.OK, code(elsewhere), "another instance is not held up");

    Caller destroy = new Caller();
    registry.run("destroy", "Destroy", INSTANCE, destroy, this::copying);
    assertEquals(io.grpc.Status.Code.CANCELLED, code(snapshot), "the snapshot was cancelled");
    assertEquals(io.grpc.Status.Code.OK, code(destroy), "then the destroy ran");
    assertEquals(3, runs.get(), "snapshot, the other instance's power-off, destroy");

    Caller after = new Caller();
    registry.run("off-2", "PowerOff", INSTANCE, after, this::copying);
    assertEquals(io.grpc.Status.Code.OK, code(after), "the instance is free again");
  }

  @Test
  void anOperationNobodyFollowsIsCancelledAfterTheOrphanTimeout() throws Exception {
    OperationRegistry short_ = new OperationRegistry(clock, Duration.ofMinutes(2));
    Caller conductor = new Caller();
    short_.run("op-o", "Snapshot", INSTANCE, conductor, this::untilCancelled);
    clock.now = clock.now.plus(Duration.ofMinutes(5));
    assertEquals(0, short_.cancelOrphans(), "followed, however long it runs");

    conductor.goAway();
    clock.now = clock.now.plus(Duration.ofMinutes(1));
    assertEquals(0, short_.cancelOrphans(), "not yet orphaned for the timeout");

    Caller back = new Caller();
    short_.attach("op-o", back);  // a conductor re-attached in time
    clock.now = clock.now.plus(Duration.ofMinutes(5));
    assertEquals(0, short_.cancelOrphans());

    back.goAway();
    clock.now = clock.now.plus(Duration.ofMinutes(3));
    assertEquals(1, short_.cancelOrphans(), "orphaned past the timeout: cancelled");
    Caller late = new Caller();
    short_.attach("op-o", late);
    assertEquals(io.grpc.Status.Code.CANCELLED, code(late));
  }
}
