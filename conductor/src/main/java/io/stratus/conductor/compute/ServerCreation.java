package io.stratus.conductor.compute;

import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.VolumeEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.support.access.ImageVisibility;
import io.stratus.support.errors.ApiException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Booting a server (Nova's {@code compute/api.py} create): validate the flavor and the
 * images the caller may use, plan its volumes, pick a host, record the instance in
 * building/spawning with its action, then hand the Spawn to the host's agent.
 */
public final class ServerCreation {
  private static final Logger LOG = LoggerFactory.getLogger(ServerCreation.class);

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

  private final ComputeContext c;
  private final InstanceSpecs specs;
  private final VolumeStore volumes = new VolumeStore();
  private final String volumesPool;
  private final Clock clock;

  ServerCreation(ComputeContext c, Clock clock, String volumesPool) {
    this.c = c;
    this.specs = new InstanceSpecs(c.db());
    this.clock = clock;
    this.volumesPool = volumesPool;
  }

  /**
   * The image, when the caller may boot from it (Glance's visibility rules); another
   * project's private image does not exist for the caller, like a missing one.
   */
  private ImageRegistry.ImageInfo bootable(Caller caller, String field, String imageId) {
    return c.images().find(imageId)
        .filter(i -> ImageVisibility.visible(i.owner(), i.visibility(),
            ImageVisibility.members(i.properties()), caller.projectId(), caller.admin()))
        .orElseThrow(() -> ApiException.notFound(field + ": image " + imageId + " not found"));
  }

  /** A server accepted for boot, and its record as accepted (building, spawning). */
  public record Created(Accepted accepted, ServerView server) {}

  /** Boots a server: record in building/spawning, then the agent's Spawn. */
  public Accepted createServer(Caller caller, BootRequest r) {
    return create(caller, r).accepted();
  }

  /**
   * As {@link #createServer}, with the record as it was accepted: read after the agent was
   * asked, it could already show the server active.
   */
  public Created create(Caller caller, BootRequest r) {
    String name = RequestValidator.name("name", r.name());
    if (r.imageRef() == null || r.imageRef().isBlank()) {
      throw ApiException.invalidArgument("image_ref", "is required");
    }
    RequestValidator.range("flavor.vcpus", r.vcpus(), 1, 64);
    RequestValidator.range("flavor.memory_mb", r.memoryMb(), 64, 1_048_576);
    RequestValidator.range("flavor.root_gb", r.rootGb(), 0, 65_536);
    Map<String, String> metadata = c.validator().serverMetadata("metadata", r.metadata());
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
            ? c.db().inTransaction(s -> VolumePlan.fromSnapshotImage(s, volumes, r.imageRef(),
                imageProps, uuid, caller.projectId(), volumesPool, now))
            : List.of())
        : VolumePlan.fromBlockDevices(r.blockDevices(), uuid, caller.projectId(),
            volumesPool, now);
    String storage = planned.isEmpty() ? storageKind(r.rootDiskKind()) : "rbd";
    HostEntity host;
    if (r.host() != null && !r.host().isEmpty()) {
      if (!caller.admin()) {
        throw ApiException.permissionDenied("host: only an admin may choose the host");
      }
      if (c.hosts().get(r.host()).isEmpty()) {
        throw ApiException.notFound("host " + r.host() + " not found");
      }
      host = c.hosts().requireUp(r.host());
      if (!host.storageKinds().contains(storage)) {
        throw ApiException.failedPrecondition(
            (planned.isEmpty() ? "root_disk_kind" : "block_devices") + ": host " + host.name()
                + " offers " + host.storageKinds() + " storage, not " + storage);
      }
    } else {
      host = c.hosts().pickForBoot(storage);
    }
    String requestId = ServerAccess.newRequestId();
    InstanceEntity instance =
        new InstanceEntity(uuid, name, caller.projectId(), caller.userId(), host.name(),
            r.imageRef(), r.rootDiskKind(), r.vcpus(), r.memoryMb(), r.rootGb(), metadata,
            requestId, c.conductorId(), now);
    instance.setImageTraits(yes(imageProps.get("hw_qemu_guest_agent")),
        yes(imageProps.get("os_require_quiesce")));
    ServerView accepted = c.db().inTransaction(
        s -> {
          c.instances().insert(s, instance);
          s.flush();
          planned.forEach(v -> volumes.insert(s, v));
          c.actions().start(s, requestId, uuid, Operation.CREATE.actionName(), caller.projectId(),
              caller.userId());
          c.publisher().stateChangedIn(s, uuid, null);
          return ServerView.of(instance, java.util.Optional.empty(), planned);
        });
    LOG.info("server accepted; instance={} host={} request={}", uuid, host.name(), requestId);
    c.driver().dispatch(new AgentTask(Operation.CREATE, requestId, specs.of(instance),
        host.name(), host.address(), null, 0));
    return new Created(new Accepted(requestId, uuid, null), accepted);
  }

  private static boolean yes(String value) {
    return value != null && (value.equalsIgnoreCase("yes") || value.equalsIgnoreCase("true"));
  }

  /** The host storage kind a root disk kind needs, as agents advertise it. */
  private static String storageKind(RootDiskKind kind) {
    return kind == RootDiskKind.RBD ? "rbd" : "local";
  }
}
