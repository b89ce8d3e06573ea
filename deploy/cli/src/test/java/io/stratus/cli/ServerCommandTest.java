package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.conductor.v1.ActionEvent;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ServerCommandTest {
  static final Server WEB = Server.newBuilder()
      .setId("11111111-1111-1111-1111-111111111111")
      .setName("web")
      .setProjectId("demo")
      .setUserId("alice")
      .setHost("host-a")
      .setVmState(VmState.VM_STATE_ACTIVE)
      .setTaskState(TaskState.TASK_STATE_IMAGE_UPLOADING)
      .setPowerState(PowerState.POWER_STATE_RUNNING)
      .setImageRef("cirros")
      .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(256))
      .putMetadata("role", "frontend")
      .setCreatedAt(Timestamp.newBuilder().setSeconds(1_700_000_000))
      .setVersion(7)
      .build();
  static final Server DB = Server.newBuilder()
      .setId("22222222-2222-2222-2222-222222222222")
      .setName("db")
      .setProjectId("demo")
      .setHost("host-b")
      .setVmState(VmState.VM_STATE_STOPPED)
      .setTaskState(TaskState.TASK_STATE_NONE)
      .setPowerState(PowerState.POWER_STATE_SHUTDOWN)
      .build();

  private FakeCloud cloud;

  @BeforeEach
  void setUp() throws Exception {
    cloud = new FakeCloud();
    cloud.servers.servers.put(WEB.getId(), WEB);
    cloud.servers.servers.put(DB.getId(), DB);
  }

  @AfterEach
  void tearDown() throws Exception {
    cloud.close();
  }

  @Test
  void listPrintsAlignedNovaStyleColumnsOverEveryPage() {
    FakeCloud.Result r = cloud.run("server", "list");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        ID                                    Name  Status   Task State       Power State  Host
        11111111-1111-1111-1111-111111111111  web   active   image_uploading  Running      host-a
        22222222-2222-2222-2222-222222222222  db    stopped  none             Shutdown     host-b
        """, r.out());
    assertEquals("", r.err());
    assertEquals(List.of("Bearer t0k3n", "Bearer t0k3n"), cloud.authorizations);
  }

  @Test
  void listAsJsonIsOneArrayOfServersWithProtoFieldNames() throws Exception {
    FakeCloud.Result r = cloud.run("server", "list", "-f", "json");

    assertEquals(0, r.code(), r.err());
    JsonArray servers = JsonParser.parseString(r.out()).getAsJsonArray();
    assertEquals(2, servers.size());
    JsonObject db = servers.get(1).getAsJsonObject();
    assertEquals("VM_STATE_STOPPED", db.get("vm_state").getAsString());
    // Default values are printed too, so every server has the same fields.
    assertEquals("TASK_STATE_NONE", db.get("task_state").getAsString());
    assertEquals(false, db.get("locked").getAsBoolean());
    Server.Builder back = Server.newBuilder();
    JsonFormat.parser().merge(servers.get(0).toString(), back);
    assertEquals(WEB, back.build());
  }

  @Test
  void showPrintsOneFieldPerLine() {
    FakeCloud.Result r = cloud.run("server", "show", WEB.getId());

    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals("Field        Value", lines.get(0));
    assertTrue(lines.contains("id           " + WEB.getId()), r.out());
    assertTrue(lines.contains("status       active"), r.out());
    assertTrue(lines.contains("task_state   image_uploading"), r.out());
    assertTrue(lines.contains("power_state  Running"), r.out());
    assertTrue(lines.contains("flavor       vcpus=1, ram=256 MB, disk=image size"), r.out());
    assertTrue(lines.contains("properties   role='frontend'"), r.out());
    assertTrue(lines.contains("created      2023-11-14T22:13:20Z"), r.out());
  }

  @Test
  void showAsJsonIsTheServerMessage() throws Exception {
    FakeCloud.Result r = cloud.run("server", "show", WEB.getId(), "-f", "json");

    assertEquals(0, r.code(), r.err());
    Server.Builder back = Server.newBuilder();
    JsonFormat.parser().merge(r.out(), back);
    assertEquals(WEB, back.build());
    assertTrue(r.out().contains("\"power_state\": \"POWER_STATE_RUNNING\""), r.out());
  }

  @Test
  void notFoundIsOneLineOnStderrAndExitOne() {
    String id = "33333333-3333-3333-3333-333333333333";
    FakeCloud.Result r = cloud.run("server", "show", id);

    assertEquals(1, r.code());
    assertEquals("error: NOT_FOUND: server " + id + " not found\n", r.err());
    assertEquals("", r.out());
  }

  @Test
  void aServerIsFoundByItsNameAsOpenstackDoes() {
    FakeCloud.Result r = cloud.run("server", "show", "db", "-f", "json");

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"id\": \"" + DB.getId() + "\""), r.out());
  }

  @Test
  void aNameThatMatchesNothingOrTwoServersIsAClearError() {
    FakeCloud.Result none = cloud.run("server", "stop", "nope");
    assertEquals(1, none.code());
    assertEquals("error: no server with name or id 'nope'\n", none.err());

    Server twin = DB.toBuilder().setId("44444444-4444-4444-4444-444444444444").build();
    cloud.servers.servers.put(twin.getId(), twin);
    FakeCloud.Result two = cloud.run("server", "stop", "db");
    assertEquals(1, two.code());
    assertEquals("error: more than one server is named 'db': " + DB.getId() + ", " + twin.getId()
        + "; use an id\n", two.err());
  }

  @Test
  void usageErrorIsOneLineAndExitTwo() {
    FakeCloud.Result r = cloud.run("server", "create", "--image", "cirros", "web");

    assertEquals(2, r.code());
    assertEquals("error: Missing required options: '--flavor-vcpus=N', '--flavor-ram=MB'"
        + " (see 'stratus server create --help')\n", r.err());
    assertEquals("", r.out());
    assertTrue(cloud.authorizations.isEmpty(), "nothing was sent");
  }

  @Test
  void createSendsTheRootDiskKind() {
    String cirros = "55555555-5555-5555-5555-555555555555";
    cloud.images.images.put(cirros, io.stratus.proto.image.v1.Image.newBuilder().setId(cirros)
        .setName("cirros").build());
    FakeCloud.Result r = cloud.run("server", "create", "--image", "cirros", "--flavor-vcpus", "1",
        "--flavor-ram", "128", "--root-disk", "rbd", "db-1");

    assertEquals(0, r.code(), r.err());
    var sent = cloud.servers.createServerRequests.get(cloud.servers.createServerRequests.size() - 1);
    assertEquals(io.stratus.proto.conductor.v1.RootDiskKind.ROOT_DISK_KIND_RBD, sent.getRootDiskKind());
    assertEquals(cirros, sent.getImageRef(), "the image name was resolved to its id");
    assertTrue(r.out().lines().anyMatch(l -> l.matches("root_disk\\s+rbd")), r.out());

    FakeCloud.Result bad = cloud.run("server", "create", "--image", "cirros", "--flavor-vcpus", "1",
        "--flavor-ram", "128", "--root-disk", "ceph", "db-2");
    assertEquals(2, bad.code());
    assertTrue(bad.err().startsWith("error: Invalid value for option '--root-disk': expected one of"
        + " [local, rbd]"), bad.err());
  }

  @Test
  void unknownStatusFilterIsAUsageError() {
    FakeCloud.Result r = cloud.run("server", "list", "--status", "running");

    assertEquals(2, r.code());
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().startsWith("error: Invalid value for option '--status': unknown server "
        + "status 'running', expected one of building, active, stopped"), r.err());
  }

  @Test
  void missingTokenIsAUsageError() {
    FakeCloud.Result r = cloud.runExactly("--token=", "server", "list");

    assertEquals(2, r.code());
    assertEquals("error: no API token: pass --token TOKEN or set API_TOKEN\n", r.err());
  }

  @Test
  void softRebootShowsTheApiRefusal() {
    FakeCloud.Result r = cloud.run("server", "reboot", "--soft", WEB.getId());

    assertEquals(1, r.code());
    assertEquals("error: FAILED_PRECONDITION: soft reboot is not supported; use a hard reboot\n",
        r.err());
  }

  @Test
  void eventListShowsActionsThenTheirEvents() {
    cloud.servers.actions.put(WEB.getId(), List.of(ServerAction.newBuilder()
        .setRequestId("req-1")
        .setAction("createImage")
        .setStartTime(Timestamp.newBuilder().setSeconds(1_700_000_000))
        .setFinishTime(Timestamp.newBuilder().setSeconds(1_700_000_060))
        .addEvents(ActionEvent.newBuilder()
            .setEvent("compute_snapshot_instance")
            .setStartTime(Timestamp.newBuilder().setSeconds(1_700_000_001))
            .setFinishTime(Timestamp.newBuilder().setSeconds(1_700_000_059))
            .setResult("Success"))
        .build()));

    FakeCloud.Result r = cloud.run("server", "event", "list", WEB.getId());

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Request ID  Action / Event               Start                 Finish                Result   Message
        req-1       createImage                  2023-11-14T22:13:20Z  2023-11-14T22:14:20Z  Success
                      compute_snapshot_instance  2023-11-14T22:13:21Z  2023-11-14T22:14:19Z  Success
        """, r.out());
  }
}
