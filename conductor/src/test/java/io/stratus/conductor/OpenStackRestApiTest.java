package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.testkit.PostgresExtension;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Keystone and Nova REST subsets over a real conductor and PostgreSQL: password
 * authentication against hashed passwords, tokens that the gRPC API honours too, Nova's
 * answers for each served call (checked against the gRPC API's view of the same server),
 * and the refusals a client must get: 401 without a valid token, 404 for another
 * project's server or a name, 409 for a state conflict, 400 naming the bad field, 406 for
 * a microversion not served. The real {@code openstack} client runs in the e2e suite.
 */
class OpenStackRestApiTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  static ConductorHarness h;
  static String keystone;
  static String nova;

  @BeforeAll
  static void start() throws Exception {
    int identityPort = freePort();
    int computePort = freePort();
    h = new ConductorHarness(PG.cluster(), Map.of(
        "openstack.identity.port", Integer.toString(identityPort),
        "openstack.compute.port", Integer.toString(computePort),
        "openstack.image.url", "http://127.0.0.1:9292",
        "openstack.users", "alice:project-a:member:pw-alice,bob:project-b:member:pw:bob,"
            + "root:admin-project:admin:pw-root"));
    keystone = "http://127.0.0.1:" + identityPort;
    nova = "http://127.0.0.1:" + computePort + "/v2.1";
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  record Answer(int status, JsonNode body, HttpResponse<String> raw) {
    String header(String name) {
      return raw.headers().firstValue(name).orElse(null);
    }
  }

  private static Answer call(String method, String url, String token, String body,
      String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).method(method,
        body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("X-Auth-Token", token);
    }
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode json = r.body().isEmpty() ? null : JSON.readTree(r.body());
    return new Answer(r.statusCode(), json, r);
  }

  private static Answer authenticate(String user, String password, String project)
      throws Exception {
    return call("POST", keystone + "/v3/auth/tokens", null, """
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {
          "name": "%s", "domain": {"name": "Default"}, "password": "%s"}}},
          "scope": {"project": {"name": "%s", "domain": {"name": "Default"}}}}}"""
        .formatted(user, password, project));
  }

  private static String token(String user, String password, String project) throws Exception {
    Answer a = authenticate(user, password, project);
    assertEquals(201, a.status(), a.raw().body());
    return a.header("X-Subject-Token");
  }

  @Test
  void keystoneIssuesScopedTokensWithACatalogAndRefusesWrongCredentials() throws Exception {
    Answer version = call("GET", keystone + "/v3", null, null);
    assertEquals(keystone + "/v3/", version.body().at("/version/links/0/href").asText());

    Answer issued = authenticate("alice", "pw-alice", "project-a");
    assertEquals(201, issued.status(), issued.raw().body());
    String secret = issued.header("X-Subject-Token");
    assertNotNull(secret);
    JsonNode token = issued.body().get("token");
    assertEquals("project-a", token.at("/project/name").asText());
    assertEquals("alice", token.at("/user/name").asText());
    assertTrue(token.get("expires_at").asText().endsWith("Z"));
    Map<String, String> urls = new java.util.HashMap<>();
    token.get("catalog").forEach(s -> urls.put(s.get("type").asText(),
        s.at("/endpoints/0/url").asText()));
    assertEquals(Map.of("identity", keystone + "/v3", "compute", nova,
        "image", "http://127.0.0.1:9292"), urls);
    assertNotNull(issued.header("x-openstack-request-id"));

    // the token speaks for alice's project on the gRPC API too
    assertEquals("project-a", h.servers(secret).getServer(GetServerRequest.newBuilder()
        .setServerId(h.bootActive("keystone-owned")).build()).getServer().getProjectId());

    Answer validated = call("GET", keystone + "/v3/auth/tokens", secret, null,
        "X-Subject-Token", secret);
    assertEquals(200, validated.status());
    assertEquals(token.at("/user/id").asText(), validated.body().at("/token/user/id").asText());

    Answer renewed = call("POST", keystone + "/v3/auth/tokens", null,
        "{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"" + secret
            + "\"}}}}");
    assertEquals(201, renewed.status(), renewed.raw().body());
    assertFalse(secret.equals(renewed.header("X-Subject-Token")));

    for (Answer refused : new Answer[] {authenticate("alice", "wrong", "project-a"),
        authenticate("nobody", "pw-alice", "project-a"),
        authenticate("alice", "pw-alice", "project-b")}) {
      assertEquals(401, refused.status(), refused.raw().body());
      assertEquals(401, refused.body().at("/error/code").asInt());
      assertTrue(refused.header("X-Subject-Token") == null);
    }
    Answer badBody = call("POST", keystone + "/v3/auth/tokens", null, "{\"auth\": 1");
    assertEquals(400, badBody.status());
    assertTrue(badBody.body().at("/error/message").asText().contains("body"));

    // bob's password holds a colon: only the first three separate the fields
    assertEquals(201, authenticate("bob", "pw:bob", "project-b").status());
    // stored as a salted hash, never as the password
    String stored = h.string("SELECT password_hash FROM users WHERE name = 'alice'");
    assertTrue(stored.startsWith("pbkdf2-sha256$210000$"), stored);
    assertFalse(stored.contains("pw-alice"));
  }

  @Test
  void novaServesServersAsTheGrpcApiSeesThem() throws Exception {
    String alice = token("alice", "pw-alice", "project-a");
    String id = h.bootActive("nova-view");
    Answer shown = call("GET", nova + "/servers/" + id, alice, null);
    assertEquals(200, shown.status(), shown.raw().body());
    JsonNode s = shown.body().get("server");
    var grpc = h.servers(alice).getServer(GetServerRequest.newBuilder().setServerId(id).build())
        .getServer();
    assertEquals(grpc.getName(), s.get("name").asText());
    assertEquals("ACTIVE", s.get("status").asText());
    assertEquals("active", s.get("OS-EXT-STS:vm_state").asText());
    assertEquals(1, s.get("OS-EXT-STS:power_state").asInt());
    assertEquals(grpc.getImageRef(), s.at("/image/id").asText());
    assertEquals("m1.nano", s.at("/flavor/id").asText(), "1 vCPU, 128 MiB, 1 GiB");
    assertEquals("project-a", s.get("tenant_id").asText());
    assertFalse(s.has("OS-EXT-SRV-ATTR:host"), "host attributes are for admins");
    // the fields of GET /servers/{id} at 2.1 in Nova's API reference, no more, no fewer
    java.util.Set<String> v21 = java.util.Set.of("accessIPv4", "accessIPv6", "addresses",
        "config_drive", "created", "flavor", "hostId", "id", "image", "key_name", "links",
        "metadata", "name", "OS-DCF:diskConfig", "OS-EXT-AZ:availability_zone",
        "OS-EXT-STS:power_state", "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state",
        "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at",
        "os-extended-volumes:volumes_attached", "progress", "security_groups", "status",
        "tenant_id", "updated", "user_id");
    assertEquals(new java.util.TreeSet<>(v21), fields(s));
    assertEquals(java.util.Set.of("id", "links"), fields(s.get("flavor")));
    assertEquals(java.util.Set.of("id", "links"), fields(s.get("image")));
    String root = token("root", "pw-root", "admin-project");
    java.util.Set<String> admin = new java.util.TreeSet<>(v21);
    admin.addAll(java.util.Set.of("OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
        "OS-EXT-SRV-ATTR:instance_name"));
    assertEquals(admin, fields(call("GET", nova + "/servers/" + id, root, null).body()
        .get("server")));
    assertEquals("2.1", shown.header("X-OpenStack-Nova-API-Version"));

    Answer detail = call("GET", nova + "/servers/detail", alice, null);
    assertTrue(ids(detail.body().get("servers")).contains(id));
    Answer byName = call("GET", nova + "/servers?name=nova-view", alice, null);
    assertEquals(java.util.List.of(id), ids(byName.body().get("servers")));

    Answer flavor = call("GET", nova + "/flavors/m1.nano", alice, null);
    assertEquals(128, flavor.body().at("/flavor/ram").asInt());
    Answer specs = call("GET", nova + "/flavors/m1.nano/os-extra_specs", alice, null);
    assertEquals(0, specs.body().get("extra_specs").size(), "what openstack flavor list reads");
    assertEquals(404, call("GET", nova + "/flavors/none/os-extra_specs", alice, null).status());
  }

  private static java.util.Set<String> fields(JsonNode object) {
    java.util.Set<String> names = new java.util.TreeSet<>();
    object.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void novaActionsDriveTheSameOperationsAndAnswerNovasCodes() throws Exception {
    String alice = token("alice", "pw-alice", "project-a");
    String id = h.bootActive("nova-actions");
    Answer stop = call("POST", nova + "/servers/" + id + "/action", alice, "{\"os-stop\": null}");
    assertEquals(202, stop.status(), stop.raw().body());
    assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());
    String requestId = stop.header("x-openstack-request-id");
    assertEquals(requestId, stop.header("x-compute-request-id"));

    Answer again = call("POST", nova + "/servers/" + id + "/action", alice, "{\"os-stop\": null}");
    assertEquals(409, again.status(), again.raw().body());
    assertTrue(again.body().at("/conflictingRequest/message").asText().contains("stopped"));

    Answer events = call("GET", nova + "/servers/" + id + "/os-instance-actions", alice, null);
    JsonNode latest = events.body().at("/instanceActions/0");
    assertEquals("stop", latest.get("action").asText());
    assertEquals(requestId, latest.get("request_id").asText(),
        "the action is recorded under the request id the answer named");
    Answer one = call("GET", nova + "/servers/" + id + "/os-instance-actions/" + requestId,
        alice, null);
    assertEquals("Success", one.body().at("/instanceAction/events/0/result").asText());
    assertEquals(java.util.Set.of("action", "events", "instance_uuid", "message", "project_id",
        "request_id", "start_time", "user_id"), fields(one.body().get("instanceAction")));
    assertEquals(java.util.Set.of("event", "finish_time", "result", "start_time"),
        fields(one.body().at("/instanceAction/events/0")), "traceback is for admins");

    assertEquals(202, call("POST", nova + "/servers/" + id + "/action", alice,
        "{\"os-start\": null}").status());
    assertEquals(VmState.VM_STATE_ACTIVE, h.awaitIdle(id).getVmState());
    assertEquals(202, call("POST", nova + "/servers/" + id + "/action", alice,
        "{\"reboot\": {\"type\": \"SOFT\"}}").status());
    assertEquals(VmState.VM_STATE_ACTIVE, h.awaitIdle(id).getVmState());
    assertEquals("reboot", call("GET", nova + "/servers/" + id + "/os-instance-actions", alice,
        null).body().at("/instanceActions/0/action").asText());

    Answer snap = call("POST", nova + "/servers/" + id + "/action", alice,
        "{\"createImage\": {\"name\": \"nova-snap\", \"metadata\": {\"k\": \"v\"}}}");
    assertEquals(202, snap.status(), snap.raw().body());
    String location = snap.header("Location");
    assertTrue(location.startsWith("http://127.0.0.1:9292/v2/images/"), location);
    String imageId = location.substring(location.lastIndexOf('/') + 1);
    h.awaitIdle(id);
    var image = ImagesGrpc.newBlockingStub(h.gatewayChannel()).withInterceptors(
        io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(ConductorHarness.bearer(alice)))
        .getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    assertEquals("nova-snap", image.getName());

    assertEquals(202, call("POST", nova + "/servers/" + id + "/action", alice,
        "{\"lock\": null}").status());
    String root = token("root", "pw-root", "admin-project");
    assertEquals(202, call("POST", nova + "/servers/" + id + "/action", root,
        "{\"reboot\": {\"type\": \"HARD\"}}").status(), "an admin passes a lock");
    h.awaitIdle(id);

    assertEquals(409, call("DELETE", nova + "/servers/" + id, alice, null).status(),
        "a locked server refuses its owner");
    assertEquals(202, call("POST", nova + "/servers/" + id + "/action", alice,
        "{\"unlock\": null}").status());
    Answer deleted = call("DELETE", nova + "/servers/" + id, alice, null);
    assertEquals(204, deleted.status(), deleted.raw().body());
    long deadline = System.nanoTime() + 20_000_000_000L;
    int status = 0;
    while (System.nanoTime() < deadline
        && (status = call("GET", nova + "/servers/" + id, alice, null).status()) != 404) {
      Thread.sleep(20);
    }
    assertEquals(404, status, "a deleted server is not found");
  }

  @Test
  void novaRefusesWhatAClientGetsWrong() throws Exception {
    String alice = token("alice", "pw-alice", "project-a");
    String bob = token("bob", "pw:bob", "project-b");
    String id = h.bootActive("nova-refusals");
    String action = nova + "/servers/" + id + "/action";

    Answer noToken = call("GET", nova + "/servers/" + id, null, null);
    assertEquals(401, noToken.status());
    assertTrue(noToken.header("WWW-Authenticate").startsWith("Keystone uri="));
    assertEquals(401, call("GET", nova + "/servers/" + id, "not-a-token", null).status());

    Answer other = call("GET", nova + "/servers/" + id, bob, null);
    assertEquals(404, other.status());
    assertEquals(404, other.body().at("/itemNotFound/code").asInt());
    assertEquals(404, call("POST", action, bob, "{\"os-stop\": null}").status());
    assertEquals(404, call("GET", nova + "/servers/nova-refusals", alice, null).status(),
        "a name is not an id: clients then search the list");

    Answer mv = call("GET", nova + "/servers/" + id, alice, null,
        "OpenStack-API-Version", "compute 2.60");
    assertEquals(406, mv.status());

    Answer notJson = call("POST", action, alice, "{os-stop");
    assertEquals(400, notJson.status());
    assertTrue(notJson.body().at("/badRequest/message").asText().contains("body"));
    Answer unknown = call("POST", action, alice, "{\"os-migrateLive\": {}}");
    assertEquals(400, unknown.status());
    Answer soft = call("POST", action, alice, "{\"reboot\": {\"type\": \"WARM\"}}");
    assertEquals(400, soft.status());
    assertTrue(soft.body().at("/badRequest/message").asText().contains("reboot.type"));
    Answer noName = call("POST", action, alice, "{\"createImage\": {}}");
    assertEquals(400, noName.status());
    assertTrue(noName.body().at("/badRequest/message").asText().contains("name"));
    StringBuilder many = new StringBuilder("{\"createImage\": {\"name\": \"n\", \"metadata\": {");
    for (int i = 0; i < 200; i++) {
      many.append(i == 0 ? "" : ",").append("\"k").append(i).append("\": \"v\"");
    }
    Answer overLimit = call("POST", action, alice, many.append("}}}").toString());
    assertEquals(413, overLimit.status(), overLimit.raw().body());
    assertTrue(overLimit.body().at("/overLimit/message").asText().contains("metadata"),
        overLimit.raw().body());
    Answer badFlavor = call("POST", nova + "/servers", alice,
        "{\"server\": {\"name\": \"x\", \"imageRef\": \"" + h.baseImageId
            + "\", \"flavorRef\": \"no-such\"}}");
    assertEquals(404, badFlavor.status());
    Answer hostFilter = call("GET", nova + "/servers?host=host-1", alice, null);
    assertEquals(403, hostFilter.status());
    assertEquals(405, call("PUT", nova + "/servers/" + id + "/action", alice, "{}").status());

    // nothing of the refused calls happened
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState());
    assertEquals(1, h.count("SELECT count(*) FROM instance_actions WHERE instance_uuid = ?::uuid",
        id), "only the create was recorded");
  }

  @Test
  void novaCreatesAServerFromAFlavorAndAnImage() throws Exception {
    String alice = token("alice", "pw-alice", "project-a");
    Answer created = call("POST", nova + "/servers", alice,
        "{\"server\": {\"name\": \"from-nova\", \"imageRef\": \"" + h.baseImageId
            + "\", \"flavorRef\": \"m1.nano\", \"min_count\": 1, \"max_count\": 1}}");
    assertEquals(202, created.status(), created.raw().body());
    String id = created.body().at("/server/id").asText();
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState());
    assertEquals(128, s.getFlavor().getMemoryMb());
    assertEquals("project-a", s.getProjectId());
  }

  @Test
  void novaBootsFromAVolumeMadeFromAnImage() throws Exception {
    h.registerOnFakeAgent("ceph-host", java.util.List.of("local", "rbd"));
    h.keepBeating("ceph-host");
    String alice = token("alice", "pw-alice", "project-a");
    Answer created = call("POST", nova + "/servers", alice, """
        {"server": {"name": "bfv", "flavorRef": "m1.nano", "block_device_mapping_v2": [
          {"source_type": "image", "destination_type": "volume", "uuid": "%s",
           "boot_index": 0, "volume_size": 1, "delete_on_termination": true}]}}"""
        .formatted(h.baseImageId));
    assertEquals(202, created.status(), created.raw().body());
    String id = created.body().at("/server/id").asText();
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState());
    assertEquals(1, s.getVolumesCount(), "one volume, made from the image");
    JsonNode shown = call("GET", nova + "/servers/" + id, alice, null).body().get("server");
    assertEquals("", shown.get("image").asText(), "Nova shows no image for a volume-backed server");
    assertEquals(s.getVolumes(0).getId(),
        shown.at("/os-extended-volumes:volumes_attached/0/id").asText());

    Answer twoBoots = call("POST", nova + "/servers", alice, """
        {"server": {"name": "bfv2", "flavorRef": "m1.nano", "block_device_mapping_v2": [
          {"source_type": "image", "destination_type": "volume", "uuid": "%s",
           "boot_index": 0, "volume_size": 1},
          {"source_type": "blank", "destination_type": "volume", "boot_index": 0,
           "volume_size": 1}]}}""".formatted(h.baseImageId));
    assertEquals(400, twoBoots.status());
    assertTrue(twoBoots.body().at("/badRequest/message").asText().contains("block_devices"));
  }

  private static java.util.List<String> ids(JsonNode servers) {
    java.util.List<String> ids = new java.util.ArrayList<>();
    servers.forEach(s -> ids.add(s.get("id").asText()));
    return ids;
  }
}
