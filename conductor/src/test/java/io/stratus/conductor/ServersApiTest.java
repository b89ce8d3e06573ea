package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static io.stratus.conductor.ConductorHarness.MEMBER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.LockServerRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.UnlockServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.conductor.v1.WatchServerRequest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Boot, read, list (paged), lock/unlock and authentication of the Servers API. */
class ServersApiTest extends ConductorTest {


  private static CreateServerRequest.Builder boot(String name) {
    return CreateServerRequest.newBuilder().setName(name).setImageRef(h.baseImageId)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128).setRootGb(1));
  }

  @Test
  void bootRecordsTheServerAndTheAgentSpawnsIt() throws Exception {
    var created = h.servers(MEMBER_A).createServer(boot("web-1").putMetadata("role", "web")
        .putMetadata("tier", "front").build());
    Server s = created.getServer();
    assertEquals(VmState.VM_STATE_BUILDING, s.getVmState());
    assertEquals("project-a", s.getProjectId());
    assertEquals("user-a", s.getUserId());
    assertEquals(ConductorHarness.HOST, s.getHost());
    Server active = h.awaitIdle(s.getId());
    assertEquals(VmState.VM_STATE_ACTIVE, active.getVmState());
    assertEquals("web", active.getMetadataMap().get("role"));
    assertTrue(active.getVersion() > s.getVersion(), "version bumps on every change");
    assertEquals(1, h.agent.executionCount("Spawn") - countOtherSpawns(s.getId()));

    // an operation's task carries the record as read for it: flavor, image and metadata
    h.servers(MEMBER_A).stopServer(io.stratus.proto.conductor.v1.StopServerRequest.newBuilder()
        .setServerId(s.getId()).build());
    h.awaitIdle(s.getId());
    var spec = h.agent.taskSpecs().stream().filter(t -> t.getUuid().equals(s.getId()))
        .reduce((a, b) -> b).orElseThrow();
    assertEquals("web-1", spec.getName());
    assertEquals(java.util.Map.of("role", "web", "tier", "front"), spec.getMetadataMap());
    assertEquals(128, spec.getMemoryMb());
    assertEquals(1, spec.getVcpus());
    assertEquals(h.baseImageId, spec.getImageRef());
  }

  private static int countOtherSpawns(String id) {
    return (int) h.agent.executions().stream()
        .filter(c -> c.rpc().equals("Spawn") && !c.instanceUuid().equals(id)).count();
  }

  @Test
  void invalidBootRequestsNameTheField() {
    var s = h.servers(MEMBER_A);
    assertEquals("name: must not be empty", refused(Status.Code.INVALID_ARGUMENT,
        () -> s.createServer(boot("").build())).getStatus().getDescription());
    assertEquals("image_ref: is required", refused(Status.Code.INVALID_ARGUMENT,
        () -> s.createServer(boot("x").clearImageRef().build())).getStatus().getDescription());
    assertEquals("flavor.vcpus: must be between 1 and 64, got 0", refused(Status.Code.INVALID_ARGUMENT,
        () -> s.createServer(boot("x").setFlavor(Flavor.newBuilder().setMemoryMb(128)).build()))
        .getStatus().getDescription());
    assertEquals("flavor.memory_mb: must be between 64 and 1048576, got 1", refused(
        Status.Code.INVALID_ARGUMENT,
        () -> s.createServer(boot("x").setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(1)).build()))
        .getStatus().getDescription());
    assertEquals("host: only an admin may choose the host", refused(Status.Code.PERMISSION_DENIED,
        () -> s.createServer(boot("x").setHost(ConductorHarness.HOST).build())).getStatus().getDescription());
    assertEquals("host nowhere not found", refused(Status.Code.NOT_FOUND,
        () -> h.servers(ADMIN).createServer(boot("x").setHost("nowhere").build())).getStatus().getDescription());
  }

  @Test
  void listIsPagedNewestFirstAndScopedToTheProject() throws Exception {
    String prefix = "page-" + UUID.randomUUID().toString().substring(0, 8) + "-";
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      ids.add(h.servers(MEMBER_A).createServer(boot(prefix + i).build()).getServer().getId());
    }
    for (String id : ids) {
      h.awaitIdle(id);
    }
    List<String> seen = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      var page = h.servers(MEMBER_A).listServers(ListServersRequest.newBuilder()
          .setPageSize(2).setNamePrefix(prefix).setPageToken(token).build());
      page.getServersList().forEach(x -> seen.add(x.getName()));
      token = page.getNextPageToken();
      pages++;
    } while (!token.isEmpty());
    assertEquals(List.of(prefix + 4, prefix + 3, prefix + 2, prefix + 1, prefix + 0), seen);
    assertEquals(3, pages);

    assertEquals(0, h.servers(MEMBER_B).listServers(
        ListServersRequest.newBuilder().setNamePrefix(prefix).build()).getServersCount());
    assertEquals(5, h.servers(ADMIN).listServers(
        ListServersRequest.newBuilder().setNamePrefix(prefix).setAllProjects(true).build())
        .getServersCount());
    assertEquals("all_projects: admin only", refused(Status.Code.PERMISSION_DENIED,
        () -> h.servers(MEMBER_A).listServers(ListServersRequest.newBuilder().setAllProjects(true).build()))
        .getStatus().getDescription());
    assertEquals("page_token: is not a token this API issued", refused(Status.Code.INVALID_ARGUMENT,
        () -> h.servers(MEMBER_A).listServers(ListServersRequest.newBuilder().setPageToken("zzz").build()))
        .getStatus().getDescription());
    assertEquals("name_prefix: must not contain control characters", refused(
        Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).listServers(
            ListServersRequest.newBuilder().setNamePrefix("web\u0000").build()))
        .getStatus().getDescription());
    assertEquals("name_prefix: must be at most 255 characters", refused(
        Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).listServers(
            ListServersRequest.newBuilder().setNamePrefix("x".repeat(70_000)).build()))
        .getStatus().getDescription());
    assertEquals("page_size: must be between 0 and 1000", refused(Status.Code.INVALID_ARGUMENT,
        () -> h.servers(MEMBER_A).listServers(ListServersRequest.newBuilder().setPageSize(1001).build()))
        .getStatus().getDescription());
  }

  @Test
  void lockByAdminNeedsAnAdminToUnlock() throws Exception {
    String id = h.bootActive("admin-locked");
    h.servers(ADMIN).lockServer(LockServerRequest.newBuilder().setServerId(id).setReason("audit").build());
    Server s = h.servers(MEMBER_A).getServer(GetServerRequest.newBuilder().setServerId(id).build()).getServer();
    assertTrue(s.getLocked());
    assertEquals("admin", s.getLockedBy());
    var e = refused(Status.Code.PERMISSION_DENIED,
        () -> h.servers(MEMBER_A).unlockServer(UnlockServerRequest.newBuilder().setServerId(id).build()));
    assertEquals("server " + id + " was locked by an admin; only an admin may unlock it",
        e.getStatus().getDescription());
    refused(Status.Code.FAILED_PRECONDITION,
        () -> h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build()));
    h.servers(ADMIN).unlockServer(UnlockServerRequest.newBuilder().setServerId(id).build());
    assertFalse(h.servers(MEMBER_A).getServer(GetServerRequest.newBuilder().setServerId(id).build())
        .getServer().getLocked());
    h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
    assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());
  }

  @Test
  void callsWithoutAKnownTokenAreUnauthenticated() {
    var anonymous = ServersGrpc.newBlockingStub(h.channel());
    var none = refused(Status.Code.UNAUTHENTICATED,
        () -> anonymous.getServer(GetServerRequest.newBuilder().setServerId(UUID.randomUUID().toString()).build()));
    assertEquals("authorization: missing 'Bearer <token>' metadata", none.getStatus().getDescription());
    var wrong = refused(Status.Code.UNAUTHENTICATED,
        () -> h.servers("not-a-token").getServer(GetServerRequest.getDefaultInstance()));
    assertEquals("authorization: unknown, expired or revoked token", wrong.getStatus().getDescription());
  }

  @Test
  void watchOfAnUnknownServerIsNotFound() {
    String id = UUID.randomUUID().toString();
    var it = h.servers(MEMBER_A).watchServer(WatchServerRequest.newBuilder().setServerId(id).build());
    var e = refused(Status.Code.NOT_FOUND, it::hasNext);
    assertEquals("server " + id + " not found", e.getStatus().getDescription());
  }
}
