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
 * What the agent keeps of finished operations: their transitions and result for a caller
 * that re-attaches (not the progress on the way), for {@link OperationRegistry#RETAIN}, then
 * nothing.
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

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

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
}
