package io.stratus.conductor.compute;

import io.stratus.conductor.db.VolumeStore;
import io.stratus.support.access.ImageVisibility;
import io.stratus.conductor.db.VolumeEntity;
import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.db.ActionLog;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.InstanceActionEntity;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceFaultEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.StateUpdate;
import io.stratus.support.errors.ApiException;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.proto.agent.v1.InstanceSpec;
import java.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.time.Instant;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The instance API's rules (Nova's {@code compute/api.py}): validate, check the caller's
 * project, the lock and the allowed states, move task_state with a compare-and-swap,
 * record the action, then hand the work to the host's agent through {@link TaskDriver}.
 * Every method returns as soon as the request is accepted.
 */
public final class ComputeApi {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeApi.class);

  /** A server with its latest fault. */
  public record ServerView(InstanceEntity instance, Optional<InstanceFaultEntity> fault,
      List<VolumeEntity> volumes) {}

  /** What a client asks of a new server. */
  public record BootRequest(
      String name,
      String imageRef,
      int vcpus,
      int memoryMb,
      int rootGb,
      String host,
      RootDiskKind rootDiskKind,
      Map<String, String> metadata,
      List<VolumePlan.BlockDevice> blockDevices) {}

  /**
   * How volumes are handled: the Ceph pool new volumes go to, and the role the policy
   * create_image:allow_volume_backed requires.
   */
  public record VolumeSettings(String pool, ApiToken.Role snapshotRole) {}

  /** The outcome of an accepted request. */
  public record Accepted(String requestId, UUID instance, String imageId) {}

  private final Database db;
  private final InstanceSpecs specs;
  private final VolumeStore volumes = new VolumeStore();
  private final VolumeSettings volumeSettings;
  private final InstanceStore instances;
  private final ActionLog actions;
  private final HostRegistry hosts;
  private final ImageRegistry images;
  private final TaskDriver driver;
  private final StatePublisher publisher;
  private final RequestValidator validator;
  private final Clock clock;
  private final String conductorId;

  /**
   * @param conductorId this conductor's lease id, recorded as the owner of the tasks it
   *     accepts
   */
  public ComputeApi(
      Database db,
      InstanceStore instances,
      ActionLog actions,
      HostRegistry hosts,
      ImageRegistry images,
      TaskDriver driver,
      StatePublisher publisher,
      RequestValidator validator,
      Clock clock,
      String conductorId,
      VolumeSettings volumeSettings) {
    this.volumeSettings = volumeSettings;
    this.db = db;
    this.specs = new InstanceSpecs(db);
    this.instances = instances;
    this.actions = actions;
    this.hosts = hosts;
    this.images = images;
    this.driver = driver;
    this.publisher = publisher;
    this.validator = validator;
    this.clock = clock;
    this.conductorId = conductorId;
  }

  private static String newRequestId() {
    return "req-" + UUID.randomUUID();
  }

  /**
   * The image, when the caller may boot from it (Glance's visibility rules); another
   * project's private image does not exist for the caller, like a missing one.
   */
  private ImageRegistry.ImageInfo bootable(Caller caller, String field, String imageId) {
    return images.find(imageId)
        .filter(i -> ImageVisibility.visible(i.owner(), i.visibility(),
            ImageVisibility.members(i.properties()), caller.projectId(), caller.admin()))
        .orElseThrow(() -> ApiException.notFound(field + ": image " + imageId + " not found"));
  }

  /** Boots a server: record in building/spawning, then the agent's Spawn. */
  public Accepted createServer(Caller caller, BootRequest r) {
    String name = RequestValidator.name("name", r.name());
    if (r.imageRef() == null || r.imageRef().isBlank()) {
      throw ApiException.invalidArgument("image_ref", "is required");
    }
    RequestValidator.range("flavor.vcpus", r.vcpus(), 1, 64);
    RequestValidator.range("flavor.memory_mb", r.memoryMb(), 64, 1_048_576);
    RequestValidator.range("flavor.root_gb", r.rootGb(), 0, 65_536);
    Map<String, String> metadata = validator.serverMetadata("metadata", r.metadata());
    Map<String, String> imageProps = bootable(caller, "image_ref", r.imageRef()).properties();
    for (int n = 0; n < r.blockDevices().size(); n++) {
      VolumePlan.BlockDevice d = r.blockDevices().get(n);
      if ("image".equals(d.sourceType()) && d.uuid() != null && !d.uuid().isBlank()) {
        bootable(caller, "block_devices[" + n + "].uuid", d.uuid());
      }
    }
    UUID uuid = UUID.randomUUID();
    Instant now = clock.instant();
    List<VolumeEntity> planned = r.blockDevices().isEmpty()
        ? (VolumePlan.isVolumeBackedImage(imageProps)
            ? db.inTransaction(s -> VolumePlan.fromSnapshotImage(s, volumes, r.imageRef(),
                imageProps, uuid, caller.projectId(), volumeSettings.pool(), now))
            : List.of())
        : VolumePlan.fromBlockDevices(r.blockDevices(), uuid, caller.projectId(),
            volumeSettings.pool(), now);
    String storage = planned.isEmpty() ? storageKind(r.rootDiskKind()) : "rbd";
    HostEntity host;
    if (r.host() != null && !r.host().isEmpty()) {
      if (!caller.admin()) {
        throw ApiException.permissionDenied("host: only an admin may choose the host");
      }
      if (hosts.get(r.host()).isEmpty()) {
        throw ApiException.notFound("host " + r.host() + " not found");
      }
      host = hosts.requireUp(r.host());
      if (!host.storageKinds().contains(storage)) {
        throw ApiException.failedPrecondition((planned.isEmpty() ? "root_disk_kind" : "block_devices")
            + ": host " + host.name() + " offers " + host.storageKinds() + " storage, not " + storage);
      }
    } else {
      host = hosts.pickForBoot(storage);
    }
    String requestId = newRequestId();
    InstanceEntity instance =
        new InstanceEntity(uuid, name, caller.projectId(), caller.userId(), host.name(),
            r.imageRef(), r.rootDiskKind(), r.vcpus(), r.memoryMb(), r.rootGb(), metadata,
            requestId, conductorId, now);
    instance.setImageTraits(yes(imageProps.get("hw_qemu_guest_agent")),
        yes(imageProps.get("os_require_quiesce")));
    db.run(
        s -> {
          instances.insert(s, instance);
          s.flush();
          planned.forEach(v -> volumes.insert(s, v));
          actions.start(s, requestId, uuid, Operation.CREATE.actionName(), caller.projectId(),
              caller.userId());
        });
    publisher.stateChanged(uuid, null);
    LOG.info("server accepted; instance={} host={} request={}", uuid, host.name(), requestId);
    driver.dispatch(new AgentTask(Operation.CREATE, requestId, specs.of(instance), host.name(), host.address(),
        null, 0));
    return new Accepted(requestId, uuid, null);
  }

  /** Reads a server of the caller's project (any project for an admin). */
  public ServerView get(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    return db.inTransaction(
        s -> {
          InstanceEntity i = visible(caller, instances.find(s, uuid), serverId);
          return new ServerView(i, actions.latestFault(s, uuid), volumes.ofInstance(s, uuid));
        });
  }

  /** Lists servers; see {@link InstanceStore#list}. */
  public List<ServerView> list(Caller caller, InstanceStore.ListQuery query) {
    return db.inTransaction(
        s -> instances.list(s, query).stream()
            .map(i -> new ServerView(i, actions.latestFault(s, i.uuid()), volumes.ofInstance(s, i.uuid())))
            .toList());
  }

  /** Snapshots a server into a new image (Nova's createImage). */
  public Accepted createImage(Caller caller, String serverId, String rawName,
      Map<String, String> metadata) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    String name = RequestValidator.name("name", rawName);
    Map<String, String> props = new HashMap<>(validator.imageMetadata("metadata", metadata));
    Operation op = Operation.CREATE_IMAGE;
    InstanceEntity instance = checkedForOperation(caller, uuid, serverId, op);
    HostEntity host = hosts.requireUp(instance.host());
    // Nova copies the boot image's properties into its snapshots, so that a server booted
    // from one gets the same devices; these are the ones the instance keeps. The caller's
    // metadata wins.
    if (instance.guestAgent()) {
      props.putIfAbsent("hw_qemu_guest_agent", "yes");
    }
    if (instance.requireQuiesce()) {
      props.putIfAbsent("os_require_quiesce", "yes");
    }
    boolean volumeBacked = db.inTransaction(s -> !volumes.ofInstance(s, uuid).isEmpty());
    if (volumeBacked) {
      if (volumeSettings.snapshotRole() == ApiToken.Role.ADMIN && !caller.admin()) {
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
    String imageId = images.createQueued(name, instance.projectId(), props);
    String requestId = newRequestId();
    boolean accepted;
    try {
      accepted = db.inTransaction(
          s -> {
            boolean ok =
                instances.apply(s,
                    StateUpdate.of(uuid)
                        .expectTask((TaskState) null)
                        .expectVm(op.allowedVmStates())
                        .task(op.startTaskState())
                        .taskRequest(requestId, imageId, conductorId));
            if (ok) {
              actions.start(s, requestId, uuid, op.actionName(), caller.projectId(),
                  caller.userId());
            }
            return ok;
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
    publisher.stateChanged(uuid, null);
    LOG.info("snapshot accepted; instance={} image={} request={}", uuid, imageId, requestId);
    driver.dispatch(new AgentTask(op, requestId, specs.of(instance), host.name(), host.address(), imageId, 0,
        instance.requireQuiesce()));
    return new Accepted(requestId, uuid, imageId);
  }

  /** Powers a stopped server on. */
  public Accepted start(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.START, 0);
  }

  /** Stops a running (or errored) server. */
  public Accepted stop(Caller caller, String serverId, int timeoutSeconds) {
    RequestValidator.range("timeout_seconds", timeoutSeconds, 0, 3600);
    return powerOperation(caller, serverId, Operation.STOP, timeoutSeconds == 0 ? 60 : timeoutSeconds);
  }

  /** Hard-reboots a server. */
  public Accepted rebootHard(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.REBOOT_HARD, 0);
  }

  /** Deletes a server (any state, superseding a task in flight). */
  public Accepted delete(Caller caller, String serverId) {
    return powerOperation(caller, serverId, Operation.DELETE, 0);
  }

  private Accepted powerOperation(Caller caller, String serverId, Operation op, int timeout) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    InstanceEntity instance = checkedForOperation(caller, uuid, serverId, op);
    HostEntity host = hosts.requireUp(instance.host());
    String requestId = newRequestId();
    TaskState before = instance.taskState();
    boolean accepted =
        db.inTransaction(
            s -> {
              StateUpdate u = StateUpdate.of(uuid).task(op.startTaskState()).taskRequest(requestId, null, conductorId);
              if (op == Operation.DELETE) {
                u.anyTask();
              } else {
                u.expectTask(op.interruptibleTaskStates(), true).expectVm(op.allowedVmStates());
              }
              boolean ok = instances.apply(s, u);
              if (ok) {
                actions.start(s, requestId, uuid, op.actionName(), caller.projectId(),
                    caller.userId());
              }
              return ok;
            });
    if (!accepted) {
      throw ApiException.aborted("server " + serverId + " changed state while the "
          + op.actionName() + " request was being accepted; nothing was done");
    }
    publisher.stateChanged(uuid, before);
    LOG.info("{} accepted; instance={} request={}", op.actionName(), uuid, requestId);
    driver.dispatch(new AgentTask(op, requestId, specs.of(instance), host.name(), host.address(), null, timeout));
    return new Accepted(requestId, uuid, null);
  }

  /** Asks the agent to cancel the server's snapshot in flight. */
  public String cancelTask(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    InstanceEntity i = db.inTransaction(s -> visible(caller, instances.find(s, uuid), serverId));
    TaskState t = i.taskState();
    if (t == null || !Operation.CREATE_IMAGE.ownTaskStates().contains(t)
        || i.taskRequestId() == null) {
      throw ApiException.failedPrecondition("server " + serverId + " has no snapshot in flight"
          + " (task_state " + TaskState.dbNameOf(t) + ")");
    }
    HostEntity host = hosts.requireUp(i.host());
    driver.cancel(host.name(), host.address(), i.taskRequestId());
    return i.taskRequestId();
  }

  /** Locks a server; locked_by is "admin" or "owner". */
  public void lock(Caller caller, String serverId, String reason) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    if (reason != null && reason.length() > 255) {
      throw ApiException.invalidArgument("reason", "must be at most 255 characters");
    }
    db.run(s -> {
      InstanceEntity i = visible(caller, instances.find(s, uuid), serverId);
      instances.apply(s, StateUpdate.of(uuid).anyTask()
          .lock(caller.admin() ? "admin" : "owner", reason == null || reason.isEmpty() ? null : reason));
      String requestId = newRequestId();
      actions.start(s, requestId, i.uuid(), "lock", caller.projectId(), caller.userId());
      actions.finishAction(s, requestId, null);
    });
    publisher.stateChanged(uuid, null);
  }

  /** Unlocks a server; a lock set by an admin needs an admin. */
  public void unlock(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    db.run(s -> {
      InstanceEntity i = visible(caller, instances.find(s, uuid), serverId);
      if ("admin".equals(i.lockedBy()) && !caller.admin()) {
        throw ApiException.permissionDenied("server " + serverId
            + " was locked by an admin; only an admin may unlock it");
      }
      instances.apply(s, StateUpdate.of(uuid).anyTask().lock(null, null));
      String requestId = newRequestId();
      actions.start(s, requestId, i.uuid(), "unlock", caller.projectId(), caller.userId());
      actions.finishAction(s, requestId, null);
    });
    publisher.stateChanged(uuid, null);
  }

  /** A server's actions, newest first. */
  public List<InstanceActionEntity> actions(Caller caller, String serverId) {
    UUID uuid = RequestValidator.uuid("server_id", serverId);
    return db.inTransaction(s -> {
      visible(caller, instances.findAny(s, uuid), serverId);
      return actions.list(s, uuid);
    });
  }

  /** Checks visibility, lock and the operation's state rules (before the CAS re-checks). */
  private InstanceEntity checkedForOperation(Caller caller, UUID uuid, String serverId,
      Operation op) {
    InstanceEntity i = db.inTransaction(s -> visible(caller, instances.find(s, uuid), serverId));
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

  private static InstanceEntity visible(Caller caller, Optional<InstanceEntity> found,
      String serverId) {
    return found
        .filter(i -> caller.admin() || i.projectId().equals(caller.projectId()))
        .orElseThrow(() -> ApiException.notFound("server " + serverId + " not found"));
  }

  private void deleteQuietly(String imageId) {
    try {
      images.delete(imageId);
    } catch (RuntimeException e) {
      LOG.error("could not delete the queued image of a refused snapshot; image={}", imageId, e);
    }
  }

  private static boolean yes(String value) {
    return value != null && (value.equalsIgnoreCase("yes") || value.equalsIgnoreCase("true"));
  }

  /** The host storage kind a root disk kind needs, as agents advertise it. */
  private static String storageKind(RootDiskKind kind) {
    return kind == RootDiskKind.RBD ? "rbd" : "local";
  }
}
