package io.stratus.e2e;

import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One server's WatchServer stream, used to wait for the end of each task without polling:
 * a benchmark client clears it, asks for an operation, and waits for the next state change
 * back to no task.
 */
final class ServerWaiter implements AutoCloseable {
  private final LinkedBlockingQueue<ServerEvent> events = new LinkedBlockingQueue<>();
  private final Context.CancellableContext context = Context.current().withCancellation();
  private volatile Throwable error;

  ServerWaiter(ServersGrpc.ServersStub stub, String serverId) throws InterruptedException {
    context.run(() -> stub.watchServer(WatchServerRequest.newBuilder().setServerId(serverId)
        .build(), new StreamObserver<>() {
          @Override
          public void onNext(ServerEvent e) {
            events.add(e);
          }

          @Override
          public void onError(Throwable t) {
            error = t;
            events.add(ServerEvent.getDefaultInstance());
          }

          @Override
          public void onCompleted() {}
        }));
    ServerEvent first = events.poll(30, TimeUnit.SECONDS);
    if (first == null || !first.hasSnapshot()) {
      throw new IllegalStateException("no watch snapshot for " + serverId + ": " + error);
    }
  }

  /** Forgets the events so far (call before asking for an operation). */
  void clear() {
    events.clear();
  }

  /** Waits for the next state change to no task; false on timeout or a broken watch. */
  boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      ServerEvent e = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (e == null || error != null) {
        return false;
      }
      if (e.hasStateChange()
          && e.getStateChange().getTaskState() == TaskState.TASK_STATE_NONE) {
        return true;
      }
    }
  }

  @Override
  public void close() {
    context.cancel(null);
  }
}
