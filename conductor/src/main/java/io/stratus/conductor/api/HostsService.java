package io.stratus.conductor.api;

import io.stratus.support.grpc.GrpcErrors;
import io.grpc.stub.StreamObserver;
import io.stratus.support.errors.ApiException;
import io.stratus.conductor.events.ServerEvents;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.hosts.HostView;
import io.stratus.proto.conductor.v1.DisableHostRequest;
import io.stratus.proto.conductor.v1.DisableHostResponse;
import io.stratus.proto.conductor.v1.EnableHostRequest;
import io.stratus.proto.conductor.v1.EnableHostResponse;
import io.stratus.proto.conductor.v1.GetHostRequest;
import io.stratus.proto.conductor.v1.GetHostResponse;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.HostCapabilities;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.ListHostsResponse;

/** gRPC adapter of {@code conductor.v1.Hosts} (admin only). */
public final class HostsService extends HostsGrpc.HostsImplBase {
  private final HostRegistry hosts;

  public HostsService(HostRegistry hosts) {
    this.hosts = hosts;
  }

  private static void requireAdmin() {
    if (!AuthInterceptor.caller().admin()) {
      throw ApiException.permissionDenied("the Hosts API is for admins only");
    }
  }

  @Override
  public void listHosts(ListHostsRequest r, StreamObserver<ListHostsResponse> o) {
    GrpcErrors.unary(o, () -> {
      requireAdmin();
      var b = ListHostsResponse.newBuilder();
      hosts.list().forEach(v -> b.addHosts(host(v)));
      return b.build();
    });
  }

  @Override
  public void getHost(GetHostRequest r, StreamObserver<GetHostResponse> o) {
    GrpcErrors.unary(o, () -> {
      requireAdmin();
      return GetHostResponse.newBuilder().setHost(host(found(r.getName()))).build();
    });
  }

  @Override
  public void disableHost(DisableHostRequest r, StreamObserver<DisableHostResponse> o) {
    GrpcErrors.unary(o, () -> {
      requireAdmin();
      return DisableHostResponse.newBuilder()
          .setHost(host(hosts.setDisabled(r.getName(), true, r.getReason())))
          .build();
    });
  }

  @Override
  public void enableHost(EnableHostRequest r, StreamObserver<EnableHostResponse> o) {
    GrpcErrors.unary(o, () -> {
      requireAdmin();
      return EnableHostResponse.newBuilder()
          .setHost(host(hosts.setDisabled(r.getName(), false, null)))
          .build();
    });
  }

  private HostView found(String name) {
    if (name.isEmpty()) {
      throw ApiException.invalidArgument("name", "is required");
    }
    return hosts.get(name).orElseThrow(() -> ApiException.notFound("host " + name + " not found"));
  }

  static Host host(HostView v) {
    var h = v.host();
    return Host.newBuilder()
        .setName(h.name())
        .setAddress(h.address())
        .setAgentVersion(h.agentVersion())
        .setCapabilities(HostCapabilities.newBuilder()
            .setHypervisor(h.hypervisor())
            .addAllStorageKinds(h.storageKinds())
            .setLiveSnapshot(h.liveSnapshot())
            .setRbdDirectSnapshot(h.rbdDirectSnapshot())
            .setQuiesce(h.quiesce())
            .addAllContractVersions(h.contractVersions()))
        .setStatus(v.up() ? HostStatus.HOST_STATUS_UP : HostStatus.HOST_STATUS_DOWN)
        .setDisabled(h.disabled())
        .setDisabledReason(h.disabledReason() == null ? "" : h.disabledReason())
        .setLastHeartbeat(ServerEvents.timestamp(h.lastHeartbeatAt()))
        .setServerCount((int) v.instanceCount())
        .build();
  }
}
