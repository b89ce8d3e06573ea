package io.stratus.conductor.api;

import io.stratus.support.grpc.GrpcErrors;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.conductor.compute.RequestValidator;
import io.stratus.conductor.compute.SnapshotImages;
import io.stratus.conductor.compute.VolumePlan;
import io.stratus.conductor.db.InstanceActionEntity;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.support.errors.ApiException;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.events.EventBus;
import io.stratus.conductor.events.ServerEvents;
import io.stratus.proto.conductor.v1.ActionEvent;
import io.stratus.proto.conductor.v1.CancelServerTaskRequest;
import io.stratus.proto.conductor.v1.CancelServerTaskResponse;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateImageResponse;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageResponse;
import io.stratus.proto.conductor.v1.CreateServerResponse;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.DeleteServerResponse;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.GetServerResponse;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.ListServerActionsResponse;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ListServersResponse;
import io.stratus.proto.conductor.v1.LockServerRequest;
import io.stratus.proto.conductor.v1.LockServerResponse;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootServerResponse;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.ServerAction;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StartServerResponse;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.StopServerResponse;
import io.stratus.proto.conductor.v1.UnlockServerRequest;
import io.stratus.proto.conductor.v1.UnlockServerResponse;
import io.stratus.proto.conductor.v1.WatchEventsRequest;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.time.Clock;
import java.time.Instant;
import java.util.UUID;

/** gRPC adapter of {@code conductor.v1.Servers}: maps messages to {@link ComputeApi}. */
public final class ServersService extends ServersGrpc.ServersImplBase {
  private final ComputeApi api;
  private final SnapshotImages snapshotImages;
  private final EventBus bus;
  private final Clock clock;
  private final WatchQuota watches;

  /** @param watchesPerProject open watch streams one project may hold */
  public ServersService(ComputeApi api, SnapshotImages snapshotImages, EventBus bus, Clock clock,
      int watchesPerProject) {
    this.watches = new WatchQuota(watchesPerProject);
    this.api = api;
    this.snapshotImages = snapshotImages;
    this.bus = bus;
    this.clock = clock;
  }

  private static Caller caller() {
    return AuthInterceptor.caller();
  }

  @Override
  public void deleteSnapshotImage(DeleteSnapshotImageRequest r,
      StreamObserver<DeleteSnapshotImageResponse> o) {
    GrpcErrors.unary(o, () -> DeleteSnapshotImageResponse.newBuilder()
        .setVolumeSnapshotsDeleted(snapshotImages.delete(caller(), r.getImageId())).build());
  }

  @Override
  public void createServer(CreateServerRequest r, StreamObserver<CreateServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      Caller c = caller();
      var accepted = api.createServer(c, new ComputeApi.BootRequest(
          r.getName(), r.getImageRef(), r.getFlavor().getVcpus(), r.getFlavor().getMemoryMb(),
          r.getFlavor().getRootGb(), r.getHost(), rootDisk(r), r.getMetadataMap(),
          r.getBlockDevicesList().stream().map(ServersService::blockDevice).toList()));
      var view = api.get(c, accepted.instance().toString());
      return CreateServerResponse.newBuilder()
          .setServer(server(view))
          .setRequestId(accepted.requestId())
          .build();
    });
  }

  /** The public view of a server, with its volumes. */
  private static io.stratus.proto.conductor.v1.Server server(ComputeApi.ServerView view) {
    var b = ServerEvents.server(view.instance(), view.fault()).toBuilder();
    for (var v : view.volumes()) {
      b.addVolumes(io.stratus.proto.conductor.v1.AttachedVolume.newBuilder()
          .setId(v.id().toString()).setDevice(v.device()).setBootIndex(v.bootIndex())
          .setSizeBytes(v.sizeBytes()).setDeleteOnTermination(v.deleteOnTermination()));
    }
    return b.build();
  }

  private static VolumePlan.BlockDevice blockDevice(BlockDevice d) {
    String source = switch (d.getSourceType()) {
      case BLOCK_DEVICE_SOURCE_IMAGE -> "image";
      case BLOCK_DEVICE_SOURCE_BLANK -> "blank";
      default -> "unspecified";
    };
    return new VolumePlan.BlockDevice(source, d.getUuid(), d.getVolumeSizeGb(), d.getBootIndex(),
        d.getDeleteOnTermination());
  }

  private static RootDiskKind rootDisk(CreateServerRequest r) {
    return switch (r.getRootDiskKind()) {
      case ROOT_DISK_KIND_UNSPECIFIED, ROOT_DISK_KIND_LOCAL -> RootDiskKind.LOCAL;
      case ROOT_DISK_KIND_RBD -> RootDiskKind.RBD;
      default -> throw ApiException.invalidArgument("root_disk_kind", "unknown value");
    };
  }

  @Override
  public void getServer(GetServerRequest r, StreamObserver<GetServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      var view = api.get(caller(), r.getServerId());
      return GetServerResponse.newBuilder()
          .setServer(server(view))
          .build();
    });
  }

  @Override
  public void listServers(ListServersRequest r, StreamObserver<ListServersResponse> o) {
    GrpcErrors.unary(o, () -> {
      Caller c = caller();
      if ((r.getAllProjects() || !r.getHost().isEmpty()) && !c.admin()) {
        throw ApiException.permissionDenied(
            (r.getAllProjects() ? "all_projects" : "host") + ": admin only");
      }
      int size = r.getPageSize() == 0 ? 50 : r.getPageSize();
      if (size < 0 || size > 1000) {
        throw ApiException.invalidArgument("page_size", "must be between 0 and 1000");
      }
      PageToken after = PageToken.decode(r.getPageToken());
      VmState vm = switch (r.getVmState()) {
        case VM_STATE_UNSPECIFIED -> null;
        case UNRECOGNIZED -> throw ApiException.invalidArgument("vm_state", "unknown value");
        default -> VmState.valueOf(r.getVmState().name().substring("VM_STATE_".length()));
      };
      var query = new InstanceStore.ListQuery(
          r.getAllProjects() ? null : c.projectId(), vm,
          RequestValidator.filter("host", r.getHost()),
          RequestValidator.filter("name_prefix", r.getNamePrefix()),
          r.getIncludeDeleted(),
          after == null ? null : after.createdAt(), after == null ? null : after.uuid(),
          size + 1);
      var page = api.list(c, query);
      var b = ListServersResponse.newBuilder();
      page.stream().limit(size)
          .forEach(v -> b.addServers(server(v)));
      if (page.size() > size) {
        var last = page.get(size - 1).instance();
        b.setNextPageToken(new PageToken(last.createdAt(), last.uuid()).encode());
      }
      return b.build();
    });
  }

  @Override
  public void deleteServer(DeleteServerRequest r, StreamObserver<DeleteServerResponse> o) {
    GrpcErrors.unary(o, () -> DeleteServerResponse.newBuilder()
        .setRequestId(api.delete(caller(), r.getServerId()).requestId())
        .build());
  }

  @Override
  public void createImage(CreateImageRequest r, StreamObserver<CreateImageResponse> o) {
    GrpcErrors.unary(o, () -> {
      var accepted = api.createImage(caller(), r.getServerId(), r.getName(), r.getMetadataMap());
      return CreateImageResponse.newBuilder()
          .setImageId(accepted.imageId())
          .setRequestId(accepted.requestId())
          .build();
    });
  }

  @Override
  public void startServer(StartServerRequest r, StreamObserver<StartServerResponse> o) {
    GrpcErrors.unary(o, () -> StartServerResponse.newBuilder()
        .setRequestId(api.start(caller(), r.getServerId()).requestId())
        .build());
  }

  @Override
  public void stopServer(StopServerRequest r, StreamObserver<StopServerResponse> o) {
    GrpcErrors.unary(o, () -> StopServerResponse.newBuilder()
        .setRequestId(api.stop(caller(), r.getServerId(), r.getTimeoutSeconds()).requestId())
        .build());
  }

  @Override
  public void rebootServer(RebootServerRequest r, StreamObserver<RebootServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      if (r.getType() == RebootType.REBOOT_TYPE_SOFT) {
        throw ApiException.failedPrecondition(
            "type: SOFT reboot is not supported by this release; use HARD");
      }
      if (r.getType() != RebootType.REBOOT_TYPE_HARD) {
        throw ApiException.invalidArgument("type", "must be HARD or SOFT");
      }
      return RebootServerResponse.newBuilder()
          .setRequestId(api.rebootHard(caller(), r.getServerId()).requestId())
          .build();
    });
  }

  @Override
  public void cancelServerTask(
      CancelServerTaskRequest r, StreamObserver<CancelServerTaskResponse> o) {
    GrpcErrors.unary(o, () -> CancelServerTaskResponse.newBuilder()
        .setRequestId(api.cancelTask(caller(), r.getServerId()))
        .build());
  }

  @Override
  public void lockServer(LockServerRequest r, StreamObserver<LockServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      api.lock(caller(), r.getServerId(), r.getReason());
      return LockServerResponse.getDefaultInstance();
    });
  }

  @Override
  public void unlockServer(UnlockServerRequest r, StreamObserver<UnlockServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      api.unlock(caller(), r.getServerId());
      return UnlockServerResponse.getDefaultInstance();
    });
  }

  @Override
  public void listServerActions(
      ListServerActionsRequest r, StreamObserver<ListServerActionsResponse> o) {
    GrpcErrors.unary(o, () -> {
      var b = ListServerActionsResponse.newBuilder();
      for (InstanceActionEntity a : api.actions(caller(), r.getServerId())) {
        b.addActions(action(a));
      }
      return b.build();
    });
  }

  private static ServerAction action(InstanceActionEntity a) {
    var b = ServerAction.newBuilder()
        .setRequestId(a.requestId())
        .setAction(a.action())
        .setServerId(a.instanceUuid().toString())
        .setProjectId(a.projectId())
        .setUserId(a.userId())
        .setStartTime(ServerEvents.timestamp(a.startTime()))
        .setMessage(a.message() == null ? "" : a.message());
    if (a.finishTime() != null) {
      b.setFinishTime(ServerEvents.timestamp(a.finishTime()));
    }
    for (var e : a.events()) {
      var eb = ActionEvent.newBuilder()
          .setEvent(e.event())
          .setStartTime(ServerEvents.timestamp(e.startTime()))
          .setResult(e.result() == null ? "" : e.result())
          .setDetails(e.details() == null ? "" : e.details());
      if (e.finishTime() != null) {
        eb.setFinishTime(ServerEvents.timestamp(e.finishTime()));
      }
      b.addEvents(eb);
    }
    return b.build();
  }

  @Override
  public void watchServer(WatchServerRequest r, StreamObserver<ServerEvent> o) {
    Caller c = caller();
    ComputeApi.ServerView view;
    try {
      view = api.get(c, r.getServerId());
    } catch (RuntimeException e) {
      o.onError(GrpcErrors.toStatus(e));
      return;
    }
    String id = view.instance().uuid().toString();
    Runnable release = watchSlot(c, o);
    if (release == null) {
      return;
    }
    WatchStream stream = new WatchStream((ServerCallStreamObserver<ServerEvent>) o, true, true);
    // Subscribe before reading the snapshot again, so no change falls in between.
    AutoCloseable sub = bus.subscribe(e -> e.getServerId().equals(id), stream::offer);
    stream.onClose(() -> {
      closeQuietly(sub);
      release.run();
    });
    var fresh = api.get(c, id);
    stream.first(ServerEvents.snapshot(
        server(fresh), Instant.now(clock)));
  }

  @Override
  public void watchEvents(WatchEventsRequest r, StreamObserver<ServerEvent> o) {
    Caller c = caller();
    if (r.getAllProjects() && !c.admin()) {
      o.onError(GrpcErrors.toStatus(ApiException.permissionDenied("all_projects: admin only")));
      return;
    }
    Runnable release = watchSlot(c, o);
    if (release == null) {
      return;
    }
    WatchStream stream = new WatchStream((ServerCallStreamObserver<ServerEvent>) o, false, false);
    java.util.Set<String> visible = java.util.concurrent.ConcurrentHashMap.newKeySet();
    AutoCloseable sub = bus.subscribe(
        e -> r.getAllProjects() || visibleTo(c, e.getServerId(), visible), stream::offer);
    stream.onClose(() -> {
      closeQuietly(sub);
      release.run();
    });
  }

  /** A watch slot of the caller's project, or null after ending the call over the limit. */
  private Runnable watchSlot(Caller c, StreamObserver<ServerEvent> o) {
    try {
      return watches.acquire(c.projectId());
    } catch (RuntimeException e) {
      o.onError(GrpcErrors.toStatus(e));
      return null;
    }
  }

  /** Whether a server belongs to the caller's project (remembered once seen). */
  private boolean visibleTo(Caller c, String serverId, java.util.Set<String> known) {
    if (known.contains(serverId)) {
      return true;
    }
    try {
      api.get(c, UUID.fromString(serverId).toString());
      known.add(serverId);
      return true;
    } catch (ApiException e) {
      return false;
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // listener removal cannot fail
    }
  }
}
