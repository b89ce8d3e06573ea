package io.stratus.cli.server;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.cli.ApiErrors;
import io.stratus.cli.CliException;
import io.stratus.cli.Session;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.States;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;

/**
 * {@code --wait} for the server verbs: remembers the server's fault before the request,
 * follows the server until its task ends, prints the final state and judges it. A fault
 * that differs from the one before the request means the operation failed (exit 1).
 */
final class ServerWaiter {
  private final Session session;
  private final Server before;

  private ServerWaiter(Session session, Server before) {
    this.session = session;
    this.before = before;
  }

  /** Reads the server now, before the request is sent (NOT_FOUND fails here). */
  static ServerWaiter beforeRequest(Session session, String serverId) {
    ServerWaiter unknown = new ServerWaiter(session, Server.getDefaultInstance());
    return new ServerWaiter(session, unknown.read(serverId));
  }

  /** For a server the request creates: any fault is new. */
  static ServerWaiter forNewServer(Session session) {
    return new ServerWaiter(session, Server.getDefaultInstance());
  }

  /**
   * Blocks until the server's task_state is none and returns the server then (read again,
   * so its fault is current).
   */
  Server awaitTask(String serverId, ServerWatch.ProgressListener listener) {
    ServerWatch.Outcome o =
        ServerWatch.follow(session.clients().serverStream(), serverId, false, listener);
    if (o.ended()) {
      throw CliException.failed("server " + serverId + " was deleted while waiting");
    }
    return read(serverId);
  }

  /** Waits for the task, prints the final server and returns the exit code. */
  int awaitAndPrint(String serverId, Output output) {
    Server now = awaitTask(serverId, ServerWatch.ProgressListener.NONE);
    output.print(now, ServerTables::show);
    Fault fault = newFault(now);
    return fault == null ? 0 : fail(ApiErrors.describe(fault));
  }

  /**
   * Waits until the server is gone (its watch ends) or the delete failed (task_state none
   * in another vm_state), prints the final state and returns the exit code.
   */
  int awaitDeletionAndPrint(String serverId, Output output) {
    ServerWatch.Outcome o;
    try {
      o = ServerWatch.follow(session.clients().serverStream(), serverId, true,
          ServerWatch.ProgressListener.NONE);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
        throw e;
      }
      o = new ServerWatch.Outcome(null, true); // already gone when the watch opened
    }
    if (o.ended()) {
      Server last = o.server() != null ? o.server() : before;
      output.print(last.toBuilder()
          .setVmState(VmState.VM_STATE_DELETED)
          .setTaskState(TaskState.TASK_STATE_NONE)
          .setPowerState(PowerState.POWER_STATE_NOSTATE)
          .build(), ServerTables::show);
      return 0;
    }
    Server now = read(serverId);
    output.print(now, ServerTables::show);
    Fault fault = newFault(now);
    return fail(fault != null ? ApiErrors.describe(fault)
        : "server " + serverId + " was not deleted: vm_state " + States.vm(now.getVmState()));
  }

  /** The fault recorded since the request, or null. */
  Fault newFault(Server now) {
    if (now.hasFault() && !now.getFault().equals(before.getFault())) {
      return now.getFault();
    }
    return null;
  }

  private Server read(String serverId) {
    return session.clients().servers()
        .getServer(GetServerRequest.newBuilder().setServerId(serverId).build()).getServer();
  }

  private int fail(String message) {
    session.terminal().err().println("error: " + message);
    return CliException.FAILED;
  }
}
