package io.stratus.cli.fake;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateImageResponse;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.DeleteServerResponse;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.GetServerResponse;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.ListServerActionsResponse;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ListServersResponse;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootServerResponse;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StartServerResponse;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * A configurable fake of the conductor's {@code Servers} API: servers in a map, a scripted
 * watch stream and a scripted snapshot. Unknown servers are NOT_FOUND with the
 * conductor's message.
 */
public final class FakeServers extends ServersGrpc.ServersImplBase {
  /** Servers by id, in list order. Tests replace entries to move state along. */
  public final Map<String, Server> servers = new LinkedHashMap<>();
  public final Map<String, List<ServerAction>> actions = new LinkedHashMap<>();
  /** What CreateImage answers. */
  public CreateImageResponse createImageResponse;
  /** What WatchServer sends. */
  public List<ServerEvent> watchScript = List.of();
  /** Whether WatchServer ends after its script (as for a deleted server). */
  public boolean completeWatch;
  /** Run once the watch script is sent: moves {@link #servers} to the task's end state. */
  public Runnable afterWatch = () -> {};
  public final List<CreateImageRequest> createImageRequests = new ArrayList<>();
  /** Images DeleteSnapshotImage was asked to delete; ids in {@link #heldImages} are refused. */
  public final List<String> deletedSnapshotImages = new java.util.concurrent.CopyOnWriteArrayList<>();
  public final java.util.Set<String> heldImages = java.util.concurrent.ConcurrentHashMap.newKeySet();

  @Override
  public void deleteSnapshotImage(io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest r,
      StreamObserver<io.stratus.proto.conductor.v1.DeleteSnapshotImageResponse> o) {
    if (heldImages.contains(r.getImageId())) {
      o.onError(io.grpc.Status.FAILED_PRECONDITION.withDescription("image " + r.getImageId()
          + ": volume v-1 (server s-1, in-use) was cloned from its volume snapshot x and still"
          + " depends on it; delete that server (or volume) first. Nothing was deleted")
          .asRuntimeException());
      return;
    }
    deletedSnapshotImages.add(r.getImageId());
    o.onNext(io.stratus.proto.conductor.v1.DeleteSnapshotImageResponse.newBuilder()
        .setVolumeSnapshotsDeleted(3).build());
    o.onCompleted();
  }

  /** Every CreateServer request received. */
  public final List<io.stratus.proto.conductor.v1.CreateServerRequest> createServerRequests =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  /** Counted down when a watch is cancelled by the client. */
  public final CountDownLatch watchCancelled = new CountDownLatch(1);

  @Override
  public void getServer(GetServerRequest r, StreamObserver<GetServerResponse> o) {
    Server s = servers.get(r.getServerId());
    if (s == null) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    o.onNext(GetServerResponse.newBuilder().setServer(s).build());
    o.onCompleted();
  }

  @Override
  public void listServers(ListServersRequest r, StreamObserver<ListServersResponse> o) {
    // Two pages when there are several servers, so the CLI must follow page tokens.
    List<Server> all = new ArrayList<>(servers.values());
    boolean firstPage = r.getPageToken().isEmpty();
    int split = Math.min(1, all.size());
    ListServersResponse.Builder page = ListServersResponse.newBuilder()
        .addAllServers(firstPage ? all.subList(0, split) : all.subList(split, all.size()));
    if (firstPage && all.size() > 1) {
      page.setNextPageToken("page-2");
    }
    o.onNext(page.build());
    o.onCompleted();
  }

  @Override
  public void rebootServer(RebootServerRequest r, StreamObserver<RebootServerResponse> o) {
    if (r.getType() == RebootType.REBOOT_TYPE_SOFT) {
      o.onError(Status.FAILED_PRECONDITION
          .withDescription("soft reboot is not supported; use a hard reboot")
          .asRuntimeException());
      return;
    }
    o.onNext(RebootServerResponse.newBuilder().setRequestId("req-reboot").build());
    o.onCompleted();
  }

  @Override
  public void createServer(io.stratus.proto.conductor.v1.CreateServerRequest r,
      StreamObserver<io.stratus.proto.conductor.v1.CreateServerResponse> o) {
    createServerRequests.add(r);
    Server s = Server.newBuilder().setId("6f1c0d55-0000-4000-8000-000000000001").setName(r.getName())
        .setImageRef(r.getImageRef()).setRootDiskKind(r.getRootDiskKind()).setFlavor(r.getFlavor())
        .build();
    servers.put(s.getId(), s);
    o.onNext(io.stratus.proto.conductor.v1.CreateServerResponse.newBuilder().setServer(s)
        .setRequestId("req-create").build());
    o.onCompleted();
  }

  @Override
  public void createImage(CreateImageRequest r, StreamObserver<CreateImageResponse> o) {
    createImageRequests.add(r);
    if (!servers.containsKey(r.getServerId())) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    o.onNext(createImageResponse);
    o.onCompleted();
  }

  @Override
  public void startServer(StartServerRequest r, StreamObserver<StartServerResponse> o) {
    if (!servers.containsKey(r.getServerId())) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    o.onNext(StartServerResponse.newBuilder().setRequestId("req-start").build());
    o.onCompleted();
  }

  @Override
  public void deleteServer(DeleteServerRequest r, StreamObserver<DeleteServerResponse> o) {
    if (!servers.containsKey(r.getServerId())) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    o.onNext(DeleteServerResponse.newBuilder().setRequestId("req-delete").build());
    o.onCompleted();
  }

  /**
   * Sends the script, applies {@link #afterWatch}, then ends if {@link #completeWatch} or
   * stays open until cancelled.
   */
  @Override
  public void watchServer(WatchServerRequest r, StreamObserver<ServerEvent> o) {
    ((ServerCallStreamObserver<ServerEvent>) o).setOnCancelHandler(watchCancelled::countDown);
    if (!servers.containsKey(r.getServerId())) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    watchScript.forEach(o::onNext);
    afterWatch.run();
    if (completeWatch) {
      o.onCompleted();
    }
  }

  @Override
  public void listServerActions(ListServerActionsRequest r,
      StreamObserver<ListServerActionsResponse> o) {
    if (!servers.containsKey(r.getServerId())) {
      o.onError(notFound(r.getServerId()));
      return;
    }
    o.onNext(ListServerActionsResponse.newBuilder()
        .addAllActions(actions.getOrDefault(r.getServerId(), List.of())).build());
    o.onCompleted();
  }

  private static RuntimeException notFound(String id) {
    return Status.NOT_FOUND.withDescription("server " + id + " not found").asRuntimeException();
  }
}
