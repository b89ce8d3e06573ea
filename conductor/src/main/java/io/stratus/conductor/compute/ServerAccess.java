package io.stratus.conductor.compute;

import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostStore;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.support.errors.ApiException;
import java.util.Optional;
import java.util.UUID;

/**
 * Who may touch a server and when: a server of another project does not exist for a
 * member (NOT_FOUND, as in Nova); a locked one refuses members; an operation needs one of
 * its allowed vm and task states. Checked before the compare-and-swap, which re-checks.
 */
final class ServerAccess {
  private final Database db;
  private final InstanceStore instances;

  ServerAccess(Database db, InstanceStore instances) {
    this.db = db;
    this.instances = instances;
  }

  /**
   * What an operation on a server needs, read in one transaction: the instance, checked for
   * visibility, lock and the operation's states (the swap re-checks those), its host, checked up, and the spec its agent gets.
   */
  record Target(InstanceEntity instance, HostStore.Reachability host, InstanceSpec spec) {}

  /** Reads and checks the {@link Target} of {@code op} on server {@code uuid}. */
  Target target(Caller caller, UUID uuid, String serverId, Operation op, HostRegistry hosts,
      InstanceSpecs specs) {
    return db.inTransaction(s -> target(s, caller, uuid, serverId, op, hosts, specs));
  }

  /** As {@link #target(Caller, UUID, String, Operation, HostRegistry, InstanceSpecs)}, in
   * {@code session}'s transaction. */
  Target target(org.hibernate.Session session, Caller caller, UUID uuid, String serverId,
      Operation op, HostRegistry hosts, InstanceSpecs specs) {
    InstanceEntity i = check(caller, instances.read(session, uuid), serverId, op);
    return new Target(i, hosts.reachable(session, i.host()), specs.of(session, i));
  }

  private static InstanceEntity check(Caller caller, Optional<InstanceEntity> found,
      String serverId, Operation op) {
    InstanceEntity i = visible(caller, found, serverId);
    if (i.locked() && !caller.admin()) {
      throw ApiException.failedPrecondition("server " + serverId + " is locked");
    }
    if (!op.allowedVmStates().contains(i.vmState())) {
      throw ApiException.failedPrecondition("cannot " + op.actionName() + " server " + serverId
          + " while it is in vm_state " + i.vmState().dbName());
    }
    if (op != Operation.DELETE && !op.allowsTaskState(i.taskState())) {
      throw ApiException.failedPrecondition("cannot " + op.actionName() + " server " + serverId
          + " while it is in task_state " + TaskState.dbNameOf(i.taskState()));
    }
    return i;
  }

  static InstanceEntity visible(Caller caller, Optional<InstanceEntity> found,
      String serverId) {
    return found
        .filter(i -> caller.admin() || i.projectId().equals(caller.projectId()))
        .orElseThrow(() -> ApiException.notFound("server " + serverId + " not found"));
  }

  /**
   * The request id an accepted request is recorded under (Nova's {@code req-UUID}): the id
   * the public API gave the call being served, which its logs carry and its answer's
   * headers name, or a new one outside a call.
   */
  static String newRequestId() {
    String current = io.stratus.support.grpc.RequestIds.current();
    return current != null && current.startsWith("req-") ? current
        : io.stratus.support.grpc.RequestIds.newId();
  }
}
