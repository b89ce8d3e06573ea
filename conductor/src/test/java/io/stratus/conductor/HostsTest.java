package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.testing.AgentSimulator;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DisableHostRequest;
import io.stratus.proto.conductor.v1.EnableHostRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.RootDiskKind;
import io.stratus.proto.conductor.v1.GetHostRequest;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Host registry: registration, heartbeats, down hosts, disable/enable, admin only. */
class HostsTest extends ConductorTest {


  @Test
  void aHostThatStopsBeatingGoesDownAndItsServersAreUnavailable() throws Exception {
    AgentSimulator silent = new AgentSimulator("host-silent", h.gateway);
    String name = InProcessServerBuilder.generateName();
    Server agent = InProcessServerBuilder.forName(name).addService(silent.served()).build().start();
    try {
      h.register("host-silent", name);  // registering counts as a beat; no more follow
      String id = h.servers(ADMIN).createServer(CreateServerRequest.newBuilder()
          .setName("on-silent").setImageRef(h.baseImageId).setHost("host-silent")
          .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)).build())
          .getServer().getId();
      h.awaitIdle(id);

      Thread.sleep(ConductorHarness.HEARTBEAT.multipliedBy(ConductorHarness.MISSED + 1).toMillis());
      var hosts = h.hosts(ADMIN).listHosts(ListHostsRequest.getDefaultInstance()).getHostsList();
      var silentHost = hosts.stream().filter(x -> x.getName().equals("host-silent")).findFirst().orElseThrow();
      var beating = hosts.stream().filter(x -> x.getName().equals(ConductorHarness.HOST)).findFirst().orElseThrow();
      assertEquals(HostStatus.HOST_STATUS_DOWN, silentHost.getStatus());
      assertEquals(HostStatus.HOST_STATUS_UP, beating.getStatus(), "the beating host stays up");
      assertEquals(1, silentHost.getServerCount());

      var e = refused(Status.Code.UNAVAILABLE, () -> h.servers(ADMIN).stopServer(
          StopServerRequest.newBuilder().setServerId(id).build()));
      assertTrue(e.getStatus().getDescription().startsWith("host host-silent is down (no heartbeat since "),
          e.getStatus().getDescription());
      long imagesBefore = h.gateway.images().size();
      refused(Status.Code.UNAVAILABLE, () -> h.servers(ADMIN).createImage(
          CreateImageRequest.newBuilder().setServerId(id).setName("x").build()));
      assertEquals(imagesBefore, h.gateway.images().size(), "no image for a down host");
      assertEquals(null, h.string("SELECT task_state FROM instances WHERE uuid = ?::uuid", id));

      // A beat brings it back.
      beatOnce("host-silent");
      assertEquals(HostStatus.HOST_STATUS_UP, h.hosts(ADMIN)
          .getHost(GetHostRequest.newBuilder().setName("host-silent").build()).getHost().getStatus());
    } finally {
      agent.shutdownNow();
    }
  }

  private static HeartbeatResponse beatOnce(String host) throws Exception {
    CompletableFuture<HeartbeatResponse> answer = new CompletableFuture<>();
    var call = AgentRegistryGrpc.newStub(h.channel()).heartbeat(new StreamObserver<>() {
      @Override
      public void onNext(HeartbeatResponse value) {
        answer.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    call.onNext(HeartbeatRequest.newBuilder().setHost(host).build());
    try {
      return answer.get(10, TimeUnit.SECONDS);
    } finally {
      call.onCompleted();
    }
  }

  @Test
  void eachHostCountsItsOwnLiveServers() throws Exception {
    var before = serverCounts();
    String id = h.bootActive("counted-on-a-host");
    String host = h.servers(ConductorHarness.MEMBER_A).getServer(
        io.stratus.proto.conductor.v1.GetServerRequest.newBuilder().setServerId(id).build())
        .getServer().getHost();
    var after = serverCounts();
    for (var e : after.entrySet()) {
      int was = before.getOrDefault(e.getKey(), 0);
      assertEquals(e.getKey().equals(host) ? was + 1 : was, e.getValue(), e.getKey());
    }
  }

  private static java.util.Map<String, Integer> serverCounts() {
    java.util.Map<String, Integer> m = new java.util.HashMap<>();
    h.hosts(ADMIN).listHosts(ListHostsRequest.getDefaultInstance()).getHostsList()
        .forEach(x -> m.put(x.getName(), x.getServerCount()));
    return m;
  }

  @Test
  void heartbeatOfAnUnregisteredHostIsNotFound() {
    var e = assertThrows(Exception.class, () -> beatOnce("nobody"));
    var status = Status.fromThrowable(e.getCause());
    assertEquals(Status.Code.NOT_FOUND, status.getCode());
    assertEquals("host nobody is not registered; register first", status.getDescription());
  }

  @Test
  void registrationChecksTheContractAndTheFields() {
    var registry = AgentRegistryGrpc.newBlockingStub(h.channel());
    var wrongContract = refused(Status.Code.FAILED_PRECONDITION, () -> registry.register(
        RegisterRequest.newBuilder().setHost("old").setAddress("x:1")
            .addContractVersions("stratus.agent.v0").build()));
    assertEquals("contract_versions: agent speaks [stratus.agent.v0], conductor needs stratus.agent.v1",
        wrongContract.getStatus().getDescription());
    var noHost = refused(Status.Code.INVALID_ARGUMENT, () -> registry.register(
        RegisterRequest.newBuilder().setAddress("x:1").addContractVersions("stratus.agent.v1").build()));
    assertEquals("host: must not be empty", noHost.getStatus().getDescription());
    var noAddress = refused(Status.Code.INVALID_ARGUMENT, () -> registry.register(
        RegisterRequest.newBuilder().setHost("h").addContractVersions("stratus.agent.v1").build()));
    assertEquals("address: must not be empty", noAddress.getStatus().getDescription());
  }

  @Test
  void disabledHostsTakeNoNewServersAndReportTheirReason() throws Exception {
    List<String> names = h.hosts(ADMIN).listHosts(ListHostsRequest.getDefaultInstance())
        .getHostsList().stream().map(x -> x.getName()).toList();
    for (String name : names) {
      var disabled = h.hosts(ADMIN).disableHost(DisableHostRequest.newBuilder()
          .setName(name).setReason("maintenance").build()).getHost();
      assertTrue(disabled.getDisabled());
      assertEquals("maintenance", disabled.getDisabledReason());
    }
    try {
      var e = refused(Status.Code.UNAVAILABLE, () -> h.servers(MEMBER_A).createServer(
          CreateServerRequest.newBuilder().setName("nowhere").setImageRef(h.baseImageId)
              .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)).build()));
      assertEquals("no compute host is up and enabled", e.getStatus().getDescription());
    } finally {
      for (String name : names) {
        var enabled = h.hosts(ADMIN).enableHost(
            EnableHostRequest.newBuilder().setName(name).build()).getHost();
        assertFalse(enabled.getDisabled());
        assertEquals("", enabled.getDisabledReason());
      }
    }
    assertEquals(names.size(), h.count("SELECT count(*) FROM hosts WHERE NOT disabled"));
  }

  @Test
  void hostsApiIsForAdminsOnly() {
    var e = refused(Status.Code.PERMISSION_DENIED,
        () -> h.hosts(MEMBER_A).listHosts(ListHostsRequest.getDefaultInstance()));
    assertEquals("the Hosts API is for admins only", e.getStatus().getDescription());
    var missing = refused(Status.Code.NOT_FOUND,
        () -> h.hosts(ADMIN).getHost(GetHostRequest.newBuilder().setName("ghost").build()));
    assertEquals("host ghost not found", missing.getStatus().getDescription());
    var noName = refused(Status.Code.INVALID_ARGUMENT,
        () -> h.hosts(ADMIN).getHost(GetHostRequest.getDefaultInstance()));
    assertEquals("name: is required", noName.getStatus().getDescription());
  }

  @Test
  void listShowsTheRegisteredCapabilities() {
    var host = h.hosts(ADMIN).getHost(GetHostRequest.newBuilder().setName(ConductorHarness.HOST).build())
        .getHost();
    assertEquals("fake", host.getCapabilities().getHypervisor());
    assertTrue(host.getCapabilities().getLiveSnapshot());
    assertEquals("stratus.agent.v1", host.getCapabilities().getContractVersions(0));
    assertEquals(HostStatus.HOST_STATUS_UP, host.getStatus());
  }

  @Test
  void rbdServersGoOnlyToHostsOfferingRbdStorage() throws Exception {
    CreateServerRequest rbd = CreateServerRequest.newBuilder().setName("on-ceph")
        .setImageRef(h.baseImageId).setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)).build();
    var none = refused(Status.Code.UNAVAILABLE, () -> h.servers(MEMBER_A).createServer(rbd));
    assertEquals("no compute host is up and enabled with rbd storage", none.getStatus().getDescription());
    var wrongHost = refused(Status.Code.FAILED_PRECONDITION, () -> h.servers(ADMIN).createServer(
        rbd.toBuilder().setHost(ConductorHarness.HOST).build()));
    assertEquals("root_disk_kind: host " + ConductorHarness.HOST + " offers [local] storage, not rbd",
        wrongHost.getStatus().getDescription());

    h.registerOnFakeAgent("ceph-host", List.of("local", "rbd"));
    h.keepBeating("ceph-host");
    var server = h.servers(MEMBER_A).createServer(rbd).getServer();
    assertEquals("ceph-host", server.getHost());
    assertEquals(RootDiskKind.ROOT_DISK_KIND_RBD, server.getRootDiskKind());
    h.awaitIdle(server.getId());
    assertEquals("rbd", h.string("SELECT root_disk_kind FROM instances WHERE uuid = ?::uuid",
        server.getId()));
  }
}
