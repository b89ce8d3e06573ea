package io.stratus.conductor.compute;

import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.HostStore;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.TaskState;
import io.stratus.support.errors.ApiException;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operations on an existing server (Nova's {@code compute/api.py}): check the caller's
 * project, the lock and the allowed states, move task_state with a compare-and-swap,
 * record the action, then hand the work to the host's agent through {@link TaskDriver}.
 * Every method returns as soon as the request is accepted.
 */
public final class ServerOperations {
  private static final Logger LOG = LoggerFactory.getLogger(ServerOperations.class);

  private final ComputeContext c;
  private final InstanceSpecs specs;
  private final ApiToken.Role volumeBackedSnapshotRole;
  private final ServerAccess access;
  private final int softRebootSeconds;

  ServerOperations(ComputeContext c, ApiToken.Role volumeBackedSnapshotRole,
      int softRebootSeconds) {
    this.softRebootSeconds = softRebootSeconds;
    this.c = c;
    this.specs = new InstanceSpecs(c.db());
    this.access = new ServerAccess(c.db(), c.instances());
    this.volumeBackedSnapshotRole = volumeBackedSnapshotRole;
  }

  /** Snapshots a server into a new image (Nova's createImage). */
  public Accepted createImage(Caller caller, String serverId, String rawName,
      Map<String, String> metadata) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    String name = RequestValidator.name("name", rawName);
    Map<String, String> props = new HashMap<>(c.validator().imageMetadata("metadata", metadata));
    Operation op = Operation.CREATE_IMAGE;
    ServerAccess.Target target = access.target(caller, uuid, serverId, op, c.hosts(), specs);
    InstanceEntity instance = target.instance();
    HostStore.Reachability host = target.host();
    // Nova copies the boot image's properties into its snapshots, so that a server booted
    // from one gets the same devices; these are the ones the instance keeps. The caller's
    // metadata wins.
    if (instance.guestAgent()) {
      props.putIfAbsent("hw_qemu_guest_agent", "yes");
    }
    if (instance.requireQuiesce()) {
      props.putIfAbsent("os_require_quiesce", "yes");
    }
    if (target.spec().getVolumesCount() > 0) {
      if (volumeBackedSnapshotRole == ApiToken.Role.ADMIN && !caller.admin()) {
        throw ApiException.permissionDenied("policy create_image:allow_volume_backed lets only"
            + " admins snapshot volume-backed servers");
      }
      // block_device_mapping is added once the volume snapshots exist.
      props.put("bdm_v2", "True");
      props.put("root_device_name", "/dev/vda");
    }

    props.put("image_type", "snapshot");
    props.put("instance_uuid", uuid.toString());
    props.put("base_image_ref", instance.imageRef());
    props.put("user_id", caller.userId());
    String imageId = c.images().createQueued(name, instance.projectId(), props);
    String requestId = ServerAccess.newRequestId();
    boolean accepted;
    try {
      accepted = c.db().inTransaction(
          s -> {
            var now =
                c.instances().swap(s,
                    StateUpdate.of(uuid)
                        .expectTask((TaskState) null)
                        .expectVm(op.allowedVmStates())
                        .task(op.startTaskState())
                        .taskRequest(requestId, imageId, c.conductorId()));
            now.ifPresent(st -> {
              c.actions().start(s, requestId, uuid, op.actionName(), caller.projectId(),
                  caller.userId());
              c.publisher().stateChangedIn(s, uuid, st, null);
            });
            return now.isPresent();
          });
    } catch (RuntimeException e) {
      deleteQuietly(imageId);
      throw e;
    }
    if (!accepted) {
      deleteQuietly(imageId);
      throw ApiException.aborted("server " + serverId
          + " changed state while the snapshot was being accepted; nothing was done");
    }
    LOG.info("snapshot accepted; instance={} image={} request={}", uuid, imageId, requestId);
    c.driver().dispatch(new AgentTask(op, requestId, target.spec(), host.name(),
        host.address(), imageId, 0, instance.requireQuiesce()));
    return new Accepted(requestId, uuid, imageId);
  }

  /** Powers a stopped server on. */
  public Accepted start(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.START, 0);
  }

  /** Stops a running (or errored) server. */
  public Accepted stop(Caller caller, String serverId, int timeoutSeconds) {
    RequestValidator.range("timeout_seconds", timeoutSeconds, 0, 3600);
    return powerOperation(caller, serverId, Operation.STOP,
        timeoutSeconds == 0 ? 60 : timeoutSeconds);
  }

  /** Hard-reboots a server. */
  public Accepted rebootHard(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.REBOOT_HARD, 0);
  }

  /**
   * Soft-reboots a server the Nova way: the guest is asked to shut down (ACPI) and started
   * again; one that has not shut down within the soft-reboot timeout is hard-rebooted.
   */
  public Accepted rebootSoft(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.REBOOT_SOFT, softRebootSeconds);
  }

  /** Deletes a server (any state, superseding a task in flight). */
  public Accepted delete(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.DELETE, 0);
  }

  private Accepted powerOperation(Caller caller, String serverId, Operation op, int timeout) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    String requestId = ServerAccess.newRequestId();
    // The checks, the swap (which re-checks the states), the action and the event in one
    // transaction: nothing else happens between them.
    ServerAccess.Target target = c.db().inTransaction(s -> {
      ServerAccess.Target t = access.target(s, caller, uuid, serverId, op, c.hosts(), specs);
      StateUpdate u = StateUpdate.of(uuid).task(op.startTaskState())
          .taskRequest(requestId, null, c.conductorId());
      if (op == Operation.DELETE) {
        u.anyTask();
      } else {
        u.expectTask(op.interruptibleTaskStates(), true).expectVm(op.allowedVmStates());
      }
      InstanceStore.State now = c.instances().swap(s, u).orElseThrow(() ->
          ApiException.aborted("server " + serverId + " changed state while the "
              + op.actionName() + " request was being accepted; nothing was done"));
      c.actions().start(s, requestId, uuid, op.actionName(), caller.projectId(),
          caller.userId());
      c.publisher().stateChangedIn(s, uuid, now, t.instance().taskState());
      return t;
    });
    HostStore.Reachability host = target.host();
    LOG.info("{} accepted; instance={} request={}", op.actionName(), uuid, requestId);
    c.driver().dispatch(new AgentTask(op, requestId, target.spec(), host.name(),
        host.address(), null, timeout));
    return new Accepted(requestId, uuid, null);
  }

  /** Asks the agent to cancel the server's snapshot in flight. */
  public String cancelTask(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    InstanceEntity i = c.db().inTransaction(
        s -> ServerAccess.visible(caller, c.instances().find(s, uuid), serverId));
    TaskState t = i.taskState();
    if (t == null || !Operation.CREATE_IMAGE.ownTaskStates().contains(t)
        || i.taskRequestId() == null) {
      throw ApiException.failedPrecondition("server " + serverId + " has no snapshot in flight"
          + " (task_state " + TaskState.dbNameOf(t) + ")");
    }
    HostEntity host = c.hosts().requireUp(i.host());
    c.driver().cancel(host.name(), host.address(), i.taskRequestId());
    return i.taskRequestId();
  }

  /** Locks a server; locked_by is "admin" or "owner". */
  public void lock(Caller caller, String serverId, String reason) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    if (reason != null && reason.length() > 255) {
      throw ApiException.invalidArgument("reason", "must be at most 255 characters");
    }
    c.db().run(s -> {
      InstanceEntity i = ServerAccess.visible(caller, c.instances().find(s, uuid), serverId);
      c.instances().apply(s, StateUpdate.of(uuid).anyTask()
          .lock(caller.admin() ? "admin" : "owner",
              reason == null || reason.isEmpty() ? null : reason));
      String requestId = ServerAccess.newRequestId();
      c.actions().start(s, requestId, i.uuid(), "lock", caller.projectId(), caller.userId());
      c.actions().finishAction(s, requestId, null);
      c.publisher().stateChangedIn(s, uuid, null);
    });
  }

  /** Unlocks a server; a lock set by an admin needs an admin. */
  public void unlock(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    c.db().run(s -> {
      InstanceEntity i = ServerAccess.visible(caller, c.instances().find(s, uuid), serverId);
      if ("admin".equals(i.lockedBy()) && !caller.admin()) {
        throw ApiException.permissionDenied("server " + serverId
            + " was locked by an admin; only an admin may unlock it");
      }
      c.instances().apply(s, StateUpdate.of(uuid).anyTask().lock(null, null));
      String requestId = ServerAccess.newRequestId();
      c.actions().start(s, requestId, i.uuid(), "unlock", caller.projectId(), caller.userId());
      c.actions().finishAction(s, requestId, null);
      c.publisher().stateChangedIn(s, uuid, null);
    });
  }

  private void deleteQuietly(String imageId) {
    try {
      c.images().delete(imageId);
    } catch (RuntimeException e) {
      LOG.error("could not delete the queued image of a refused snapshot; image={}", imageId, e);
    }
  }

}
