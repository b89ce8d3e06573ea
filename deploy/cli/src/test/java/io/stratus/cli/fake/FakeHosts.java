package io.stratus.cli.fake;

import io.grpc.stub.StreamObserver;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.ListHostsResponse;
import java.util.ArrayList;
import java.util.List;

/** A fake of the conductor's {@code Hosts} API. */
public final class FakeHosts extends HostsGrpc.HostsImplBase {
  public final List<Host> hosts = new ArrayList<>();

  @Override
  public void listHosts(ListHostsRequest r, StreamObserver<ListHostsResponse> o) {
    o.onNext(ListHostsResponse.newBuilder().addAllHosts(hosts).build());
    o.onCompleted();
  }
}
