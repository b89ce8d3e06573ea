package io.stratus.cli.server;

import io.stratus.cli.CancellableStream;
import io.stratus.proto.conductor.v1.Progress;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StateChange;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.conductor.v1.WatchServerRequest;

/**
 * Follows one server's {@code WatchServer} stream until its task ends: the first message is
 * the full state, state changes update it, progress goes to a listener. The conductor
 * sets task_state before it answers a request, so a watch opened after the answer either
 * sees the task in flight or already back to none. The stream is cancelled on return.
 */
final class ServerWatch {
  /** Snapshot progress, with the task_state it happened in. */
  interface ProgressListener {
    ProgressListener NONE = (task, progress) -> {};

    void progress(TaskState task, Progress progress);
  }

  /**
   * The last state the stream showed.
   *
   * @param ended the stream completed: the server was deleted
   */
  record Outcome(Server server, boolean ended) {}

  private ServerWatch() {}

  /**
   * Blocks until task_state is none, or, with {@code untilDeleted}, until the stream ends
   * (a failed delete stops at task_state none in a vm_state other than deleted).
   */
  static Outcome follow(ServersGrpc.ServersBlockingStub stub, String serverId,
      boolean untilDeleted, ProgressListener listener) {
    WatchServerRequest request = WatchServerRequest.newBuilder().setServerId(serverId).build();
    try (CancellableStream<ServerEvent> events =
        CancellableStream.open(() -> stub.watchServer(request))) {
      Server.Builder current = null;
      while (events.hasNext()) {
        ServerEvent e = events.next();
        switch (e.getKindCase()) {
          case SNAPSHOT -> current = e.getSnapshot().toBuilder();
          case STATE_CHANGE -> apply(current, e.getStateChange());
          case PROGRESS -> listener.progress(
              current == null ? TaskState.TASK_STATE_NONE : current.getTaskState(),
              e.getProgress());
          default -> { }
        }
        if (current != null && current.getTaskState() == TaskState.TASK_STATE_NONE
            && (!untilDeleted || current.getVmState() != VmState.VM_STATE_DELETED)) {
          return new Outcome(current.build(), false);
        }
      }
      return new Outcome(current == null ? null : current.build(), true);
    }
  }

  private static void apply(Server.Builder server, StateChange change) {
    if (server == null) {
      return;
    }
    server.setVmState(change.getVmState())
        .setTaskState(change.getTaskState())
        .setPowerState(change.getPowerState());
    if (!change.getHost().isEmpty()) {
      server.setHost(change.getHost());
    }
  }
}
