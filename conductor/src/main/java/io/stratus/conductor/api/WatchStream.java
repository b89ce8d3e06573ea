package io.stratus.conductor.api;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.VmState;
import java.util.ArrayDeque;

/**
 * One watcher's outgoing event stream with flow control: events queue (bounded) while the
 * client is not ready and drain when it is. A client that falls more than {@link
 * #MAX_QUEUED} events behind is cut off with RESOURCE_EXHAUSTED rather than buffering
 * without bound. A watch on one server ends after the server's deletion is sent.
 */
final class WatchStream {
  static final int MAX_QUEUED = 1024;

  private final ServerCallStreamObserver<ServerEvent> observer;
  private final boolean endOnDelete;
  private final ArrayDeque<ServerEvent> queue = new ArrayDeque<>();
  private final boolean needsFirst;
  private boolean primed;
  private boolean closed;
  private Runnable onClose = () -> {};

  /**
   * @param needsFirst hold events until {@link #first} has queued the opening message
   */
  WatchStream(ServerCallStreamObserver<ServerEvent> observer, boolean endOnDelete,
      boolean needsFirst) {
    this.observer = observer;
    this.endOnDelete = endOnDelete;
    this.needsFirst = needsFirst;
    this.primed = !needsFirst;
    observer.setOnReadyHandler(this::drain);
    observer.setOnCancelHandler(this::cancelled);
  }

  /** Runs {@code r} when the stream ends (at once when it already has). */
  synchronized void onClose(Runnable r) {
    this.onClose = r;
    if (closed) {
      r.run();
    }
  }

  synchronized void offer(ServerEvent event) {
    if (closed) {
      return;
    }
    if (queue.size() >= MAX_QUEUED) {
      closed = true;
      queue.clear();
      observer.onError(Status.RESOURCE_EXHAUSTED
          .withDescription("watcher fell more than " + MAX_QUEUED + " events behind")
          .asRuntimeException());
      onClose.run();
      return;
    }
    queue.add(event);
    drain();
  }

  /** Queues the opening message ahead of any event that arrived before it. */
  synchronized void first(ServerEvent event) {
    if (closed) {
      return;
    }
    queue.addFirst(event);
    primed = true;
    drain();
  }

  /** Ends the stream with {@code error} (nothing queued is sent). */
  synchronized void fail(io.grpc.StatusRuntimeException error) {
    if (closed) {
      return;
    }
    closed = true;
    queue.clear();
    observer.onError(error);
    onClose.run();
  }

  private synchronized void drain() {
    while (!closed && primed && observer.isReady() && !queue.isEmpty()) {
      ServerEvent e = queue.poll();
      observer.onNext(e);
      if (endOnDelete && e.hasStateChange()
          && e.getStateChange().getVmState() == VmState.VM_STATE_DELETED) {
        closed = true;
        observer.onCompleted();
        onClose.run();
      }
    }
  }

  private synchronized void cancelled() {
    closed = true;
    queue.clear();
    onClose.run();
  }
}
