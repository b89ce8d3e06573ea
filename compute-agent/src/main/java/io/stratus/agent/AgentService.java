package io.stratus.agent;

import io.grpc.stub.StreamObserver;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.ops.OperationRegistry;
import io.stratus.agent.tasks.AgentEnv;
import io.stratus.agent.tasks.DestroyTask;
import io.stratus.agent.tasks.PowerOffTask;
import io.stratus.agent.tasks.PowerOnTask;
import io.stratus.agent.tasks.RebootTask;
import io.stratus.agent.tasks.SoftRebootTask;
import io.stratus.agent.tasks.RbdSnapshotTask;
import io.stratus.agent.tasks.SnapshotTask;
import io.stratus.agent.tasks.SpawnTask;
import io.stratus.agent.tasks.VolumeSnapshotRemoval;
import io.stratus.agent.tasks.VolumeSnapshotTask;
import io.stratus.proto.agent.v1.AttachOperationRequest;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.CancelOperationResponse;
import io.stratus.proto.agent.v1.Capabilities;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.DeleteVolumeSnapshotsRequest;
import io.stratus.proto.agent.v1.DeleteVolumeSnapshotsResponse;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.GetAgentInfoRequest;
import io.stratus.proto.agent.v1.GetAgentInfoResponse;
import io.stratus.proto.agent.v1.GetInstanceInfoRequest;
import io.stratus.proto.agent.v1.GetInstanceInfoResponse;
import io.stratus.proto.agent.v1.InstanceInfo;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.ListInstancesRequest;
import io.stratus.proto.agent.v1.ListInstancesResponse;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotVolumesRequest;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.support.errors.ApiException;
import io.stratus.support.errors.Ids;
import io.stratus.support.grpc.GrpcErrors;
import java.util.List;

/** gRPC adapter of {@code agent.v1.ComputeAgent}: validates, then runs tasks by operation id. */
public final class AgentService extends ComputeAgentGrpc.ComputeAgentImplBase {
  /** Contract versions this agent speaks. */
  public static final List<String> CONTRACTS = List.of("stratus.agent.v1");
  public static final String VERSION = "0.1.0";

  private final AgentEnv env;
  private final OperationRegistry operations;

  public AgentService(AgentEnv env, OperationRegistry operations) {
    this.env = env;
    this.operations = operations;
  }

  /** What this agent can do, advertised to the conductor (STYLE 4). */
  public Capabilities capabilities() {
    boolean real = env.hypervisor().uri().startsWith("qemu");
    Capabilities.Builder caps = Capabilities.newBuilder()
        .setHypervisor(real ? "qemu" : "test")
        .addStorageKinds("local")
        .setLiveSnapshot(real && env.config().liveSnapshots())
        .setMaxConcurrentSnapshots(env.config().maxConcurrentSnapshots());
    if (env.rbd() != null) {
      caps.addStorageKinds("rbd").setRbdDirectSnapshot(true);
    }
    caps.setQuiesce(real);
    return caps.build();
  }

  private static InstanceSpec checked(InstanceSpec i) {
    Ids.uuid("instance.uuid", i.getUuid());
    if (!i.getImageRef().isEmpty()) {
      Ids.uuid("instance.image_ref", i.getImageRef());  // it names a file in the image cache
    }
    return i;
  }

  @Override
  public void getAgentInfo(GetAgentInfoRequest r, StreamObserver<GetAgentInfoResponse> o) {
    GrpcErrors.unary(o, () -> GetAgentInfoResponse.newBuilder().setHost(env.config().host())
        .setAgentVersion(VERSION).addAllContractVersions(CONTRACTS)
        .setCapabilities(capabilities()).build());
  }

  @Override
  public void snapshot(SnapshotRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "Snapshot", r.getInstance().getUuid(), o, () -> {
      if (r.getImageId().isEmpty()) {
        throw ApiException.invalidArgument("image_id", "is required");
      }
      InstanceSpec instance = checked(r.getInstance());
      if (AgentEnv.onRbd(instance)) {
        return new RbdSnapshotTask(env, instance, r.getOperationId(), r.getImageId());
      }
      if (r.getFreezeTimeoutSeconds() < 0) {
        throw ApiException.invalidArgument("freeze_timeout_seconds", "must not be negative");
      }
      return new SnapshotTask(env, instance, r.getOperationId(), r.getImageId(), r.getAllowLive(),
          r.getRequireQuiesce(), java.time.Duration.ofSeconds(r.getFreezeTimeoutSeconds()));
    });
  }

  @Override
  public void snapshotVolumes(SnapshotVolumesRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "SnapshotVolumes", r.getInstance().getUuid(), o, () -> {
      InstanceSpec instance = checked(r.getInstance());
      if (instance.getVolumesCount() == 0) {
        throw ApiException.invalidArgument("instance.volumes", "a volume-backed instance needs volumes");
      }
      if (!r.getSnapshotName().matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
        throw ApiException.invalidArgument("snapshot_name",
            "'" + r.getSnapshotName() + "' must be 1-128 of [A-Za-z0-9._-]");
      }
      if (r.getFreezeTimeoutSeconds() < 0) {
        throw ApiException.invalidArgument("freeze_timeout_seconds", "must not be negative");
      }
      return new VolumeSnapshotTask(env, instance, r.getSnapshotName(), r.getRequireQuiesce(),
          r.getFreezeTimeoutSeconds());
    });
  }

  @Override
  public void deleteVolumeSnapshots(DeleteVolumeSnapshotsRequest r,
      StreamObserver<DeleteVolumeSnapshotsResponse> o) {
    GrpcErrors.unary(o, () -> {
      if (r.getSnapshotsCount() == 0) {
        throw ApiException.invalidArgument("snapshots", "at least one is required");
      }
      for (int n = 0; n < r.getSnapshotsCount(); n++) {
        var s = r.getSnapshots(n);
        if (s.getPool().isEmpty() || s.getImage().isEmpty() || s.getSnapshot().isEmpty()) {
          throw ApiException.invalidArgument("snapshots[" + n + "]", "pool, image and snapshot are required");
        }
      }
      try {
        return DeleteVolumeSnapshotsResponse.newBuilder()
            .setRemoved(VolumeSnapshotRemoval.run(env.rbdDisks(), r.getSnapshotsList())).build();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }

  @Override
  public void powerOn(PowerOnRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "PowerOn", r.getInstance().getUuid(), o,
        () -> new PowerOnTask(env, checked(r.getInstance())));
  }

  @Override
  public void powerOff(PowerOffRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "PowerOff", r.getInstance().getUuid(), o,
        () -> new PowerOffTask(env, checked(r.getInstance()), r.getCleanShutdownTimeoutSeconds()));
  }

  @Override
  public void reboot(RebootRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "Reboot", r.getInstance().getUuid(), o, () -> {
      if (r.getCleanShutdownTimeoutSeconds() < 0 || r.getCleanShutdownTimeoutSeconds() > 3600) {
        throw ApiException.invalidArgument("clean_shutdown_timeout_seconds",
            "must be between 0 and 3600");
      }
      return switch (r.getType()) {
        case REBOOT_TYPE_HARD -> new RebootTask(env, checked(r.getInstance()));
        case REBOOT_TYPE_SOFT -> new SoftRebootTask(env, checked(r.getInstance()),
            r.getCleanShutdownTimeoutSeconds());
        default -> throw ApiException.invalidArgument("type", "must be HARD or SOFT");
      };
    });
  }

  @Override
  public void spawn(SpawnRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "Spawn", r.getInstance().getUuid(), o, () -> {
      if (r.getInstance().getImageRef().isEmpty()) {
        throw ApiException.invalidArgument("instance.image_ref", "is required");
      }
      return new SpawnTask(env, checked(r.getInstance()));
    });
  }

  @Override
  public void destroy(DestroyRequest r, StreamObserver<TaskUpdate> o) {
    operations.run(r.getOperationId(), "Destroy", r.getInstance().getUuid(), o,
        () -> new DestroyTask(env, checked(r.getInstance())));
  }

  @Override
  public void attachOperation(AttachOperationRequest r, StreamObserver<TaskUpdate> o) {
    operations.attach(r.getOperationId(), o);
  }

  @Override
  public void cancelOperation(CancelOperationRequest r, StreamObserver<CancelOperationResponse> o) {
    GrpcErrors.unary(o, () -> {
      operations.cancel(r.getOperationId());
      return CancelOperationResponse.getDefaultInstance();
    });
  }

  @Override
  public void getInstanceInfo(GetInstanceInfoRequest r, StreamObserver<GetInstanceInfoResponse> o) {
    GrpcErrors.unary(o, () -> {
      String uuid = Ids.uuid("uuid", r.getUuid());
      var d = env.hypervisor().find(uuid)
          .orElseThrow(() -> ApiException.notFound("no domain for instance " + uuid));
      return GetInstanceInfoResponse.newBuilder().setInfo(info(d)).build();
    });
  }

  @Override
  public void listInstances(ListInstancesRequest r, StreamObserver<ListInstancesResponse> o) {
    GrpcErrors.unary(o, () -> {
      var b = ListInstancesResponse.newBuilder().addAllRunningOperationIds(operations.running());
      env.hypervisor().list().forEach(d -> b.addInstances(info(d)));
      return b.build();
    });
  }

  private static InstanceInfo info(Hypervisor.DomainInfo d) {
    return InstanceInfo.newBuilder().setUuid(d.uuid()).setDefined(d.persistent())
        .setPowerState(PowerState.valueOf("POWER_STATE_" + d.power().name())).build();
  }
}
