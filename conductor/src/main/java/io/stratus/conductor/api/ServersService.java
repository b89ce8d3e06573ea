package io.stratus.conductor.api;

import io.stratus.support.grpc.GrpcErrors;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.conductor.compute.RequestValidator;
import io.stratus.conductor.compute.ServerCreation;
import io.stratus.conductor.compute.ServerQuery;
import io.stratus.conductor.compute.SnapshotImages;
import io.stratus.conductor.compute.VolumePlan;
import io.stratus.support.errors.ApiException;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.VmState;
import io.stratus.conductor.events.EventBus;
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

/** gRPC adapter of {@code conductor.v1.Servers}: maps messages to {@link ComputeApi}. */
public final class ServersService extends ServersGrpc.ServersImplBase {
  private final ComputeApi api;
  private final SnapshotImages snapshotImages;
  private final ServerWatches watches;

  /** @param watchesPerProject open watch streams one project may hold */
  public ServersService(ComputeApi api, SnapshotImages snapshotImages, EventBus bus, Clock clock,
      int watchesPerProject) {
    this.watches = new ServerWatches(api.reads(), bus, clock, new WatchQuota(watchesPerProject));
    this.api = api;
    this.snapshotImages = snapshotImages;
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
      var created = api.creation().create(c, new ServerCreation.BootRequest(
          r.getName(), r.getImageRef(), r.getFlavor().getVcpus(), r.getFlavor().getMemoryMb(),
          r.getFlavor().getRootGb(), r.getHost(), rootDisk(r), r.getMetadataMap(),
          r.getBlockDevicesList().stream().map(ServersService::blockDevice).toList()));
      return CreateServerResponse.newBuilder()
          .setServer(ServerMessages.server(created.server()))
          .setRequestId(created.accepted().requestId())
          .build();
    });
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
      var view = api.reads().get(caller(), r.getServerId());
      return GetServerResponse.newBuilder()
          .setServer(ServerMessages.server(view))
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
      var query = new ServerQuery(r.getAllProjects(), vm,
          RequestValidator.filter("host", r.getHost()),
          RequestValidator.filter("name_prefix", r.getNamePrefix()),
          r.getIncludeDeleted(),
          after == null ? null : after.createdAt(), after == null ? null : after.uuid(),
          size + 1);
      var page = api.reads().list(c, query);
      var b = ListServersResponse.newBuilder();
      page.stream().limit(size)
          .forEach(v -> b.addServers(ServerMessages.server(v)));
      if (page.size() > size) {
        var last = page.get(size - 1);
        b.setNextPageToken(new PageToken(last.createdAt(), last.uuid()).encode());
      }
      return b.build();
    });
  }

  @Override
  public void deleteServer(DeleteServerRequest r, StreamObserver<DeleteServerResponse> o) {
    GrpcErrors.unary(o, () -> DeleteServerResponse.newBuilder()
        .setRequestId(api.operations().delete(caller(), r.getServerId())
            .requestId())
        .build());
  }

  @Override
  public void createImage(CreateImageRequest r, StreamObserver<CreateImageResponse> o) {
    GrpcErrors.unary(o, () -> {
      var accepted = api.operations().createImage(caller(), r.getServerId(), r.getName(),
          r.getMetadataMap());
      return CreateImageResponse.newBuilder()
          .setImageId(accepted.imageId())
          .setRequestId(accepted.requestId())
          .build();
    });
  }

  @Override
  public void startServer(StartServerRequest r, StreamObserver<StartServerResponse> o) {
    GrpcErrors.unary(o, () -> StartServerResponse.newBuilder()
        .setRequestId(api.operations().start(caller(), r.getServerId()).requestId())
        .build());
  }

  @Override
  public void stopServer(StopServerRequest r, StreamObserver<StopServerResponse> o) {
    GrpcErrors.unary(o, () -> StopServerResponse.newBuilder()
        .setRequestId(api.operations().stop(caller(), r.getServerId(), r.getTimeoutSeconds())
            .requestId())
        .build());
  }

  @Override
  public void rebootServer(RebootServerRequest r, StreamObserver<RebootServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      var accepted = switch (r.getType()) {
        case REBOOT_TYPE_HARD -> api.operations().rebootHard(caller(), r.getServerId());
        case REBOOT_TYPE_SOFT -> api.operations().rebootSoft(caller(), r.getServerId());
        default -> throw ApiException.invalidArgument("type", "must be HARD or SOFT");
      };
      return RebootServerResponse.newBuilder().setRequestId(accepted.requestId()).build();
    });
  }

  @Override
  public void cancelServerTask(
      CancelServerTaskRequest r, StreamObserver<CancelServerTaskResponse> o) {
    GrpcErrors.unary(o, () -> CancelServerTaskResponse.newBuilder()
        .setRequestId(api.operations().cancelTask(caller(), r.getServerId()))
        .build());
  }

  @Override
  public void lockServer(LockServerRequest r, StreamObserver<LockServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      api.operations().lock(caller(), r.getServerId(), r.getReason());
      return LockServerResponse.getDefaultInstance();
    });
  }

  @Override
  public void unlockServer(UnlockServerRequest r, StreamObserver<UnlockServerResponse> o) {
    GrpcErrors.unary(o, () -> {
      api.operations().unlock(caller(), r.getServerId());
      return UnlockServerResponse.getDefaultInstance();
    });
  }

  @Override
  public void listServerActions(
      ListServerActionsRequest r, StreamObserver<ListServerActionsResponse> o) {
    GrpcErrors.unary(o, () -> {
      var b = ListServerActionsResponse.newBuilder();
      api.reads().actions(caller(), r.getServerId())
          .forEach(a -> b.addActions(ServerMessages.action(a)));
      return b.build();
    });
  }

  @Override
  public void watchServer(WatchServerRequest r, StreamObserver<ServerEvent> o) {
    watches.server(caller(), r, o);
  }

  @Override
  public void watchEvents(WatchEventsRequest r, StreamObserver<ServerEvent> o) {
    watches.events(caller(), r, o);
  }
}
