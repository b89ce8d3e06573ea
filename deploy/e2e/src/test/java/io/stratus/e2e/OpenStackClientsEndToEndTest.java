package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.CreateImageRequest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * OpenStack's own clients, unchanged (Debian's {@code python3-openstackclient} and {@code
 * python3-glanceclient}), against the real system through its Keystone, Nova and Glance
 * REST subsets over HTTPS: each command's output is checked against what the gRPC API says
 * about the same server or image. One server goes through the whole life a user gives it:
 * created and waited for, listed, shown, stopped, started, hard-rebooted, snapshotted, its
 * events listed; its snapshot listed, shown, downloaded by both clients and deleted.
 */
class OpenStackClientsEndToEndTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  static StratusSystem system;
  static String base;
  static Path home;

  @BeforeAll
  static void start() throws Exception {
    for (String tool : List.of("openstack", "glance")) {
      assertTrue(Files.isExecutable(Path.of("/usr/bin", tool)), "/usr/bin/" + tool
          + " is missing: deploy/test-all.sh installs python3-openstackclient and"
          + " python3-glanceclient");
    }
    system = new StratusSystem();
    base = system.seedBaseImage(32L << 20);
    home = Files.createTempDirectory("os-clients");
  }

  @AfterAll
  static void stop() throws Exception {
    system.close();
  }

  /** The environment an openrc gives, as the user of project e2e-project. */
  private static Map<String, String> openrc() {
    Map<String, String> env = new HashMap<>();
    env.put("OS_AUTH_URL", "https://127.0.0.1:" + system.keystonePort + "/v3");
    env.put("OS_USERNAME", StratusSystem.OS_USER);
    env.put("OS_PASSWORD", StratusSystem.OS_PASSWORD);
    env.put("OS_PROJECT_NAME", "e2e-project");
    env.put("OS_USER_DOMAIN_NAME", "Default");
    env.put("OS_PROJECT_DOMAIN_NAME", "Default");
    env.put("OS_IDENTITY_API_VERSION", "3");
    env.put("OS_REGION_NAME", "RegionOne");
    env.put("OS_CACERT", system.pki.caCert().toString());
    // the glance client caches schemas under HOME: a fresh one per run
    env.put("HOME", home.toString());
    return env;
  }

  /** Runs a client command; its standard output, after checking it exited 0. */
  private static String run(String... command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(openrc());
    Path err = Files.createTempFile(home, "stderr", ".txt");
    pb.redirectError(err.toFile());
    Process p = pb.start();
    p.getOutputStream().close();  // nothing on stdin: the clients would read image data there
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), String.join(" ", command) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", command) + " failed:\n" + out + "\n"
        + Files.readString(err));
    return out;
  }

  private static JsonNode json(String... command) throws Exception {
    String[] withFormat = new String[command.length + 2];
    System.arraycopy(command, 0, withFormat, 0, command.length);
    withFormat[command.length] = "-f";
    withFormat[command.length + 1] = "json";
    return JSON.readTree(run(withFormat));
  }

  private static Server grpcServer(String id) {
    return system.servers(MEMBER).getServer(GetServerRequest.newBuilder().setServerId(id)
        .build()).getServer();
  }

  private static String sha256(Path file) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(file)));
  }

  @Test
  void openstackAndGlanceClientsDriveAServerAndItsSnapshot() throws Exception {
    JsonNode token = json("openstack", "token", "issue");
    assertEquals("e2e-project", token.get("project_id").asText());
    assertFalse(token.get("id").asText().isEmpty());

    JsonNode flavors = json("openstack", "flavor", "list");
    assertEquals(128, find(flavors, "Name", "m1.nano").get("RAM").asInt());

    JsonNode created = json("openstack", "server", "create", "--image", base, "--flavor",
        "m1.nano", "--wait", "os-client-server");
    String id = created.get("id").asText();
    assertEquals("ACTIVE", created.get("status").asText());
    Server s = grpcServer(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState());
    assertEquals("os-client-server", s.getName());
    assertEquals(128, s.getFlavor().getMemoryMb());
    assertEquals("running", StratusSystem.domstate(id), "a real guest runs");

    JsonNode list = json("openstack", "server", "list");
    JsonNode listed = find(list, "ID", id);
    assertEquals("os-client-server", listed.get("Name").asText());
    assertEquals("ACTIVE", listed.get("Status").asText());

    JsonNode shown = json("openstack", "server", "show", id);
    assertEquals(id, shown.get("id").asText());
    assertEquals("active", shown.get("OS-EXT-STS:vm_state").asText());
    assertEquals("e2e-project", shown.get("project_id").asText());

    run("openstack", "server", "stop", id);
    assertEquals(VmState.VM_STATE_STOPPED, system.awaitIdle(id, Duration.ofSeconds(120))
        .getVmState());
    assertEquals("SHUTOFF", json("openstack", "server", "show", id).get("status").asText());
    assertEquals("shut off", StratusSystem.domstate(id));
    run("openstack", "server", "start", id);
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(id, Duration.ofSeconds(120))
        .getVmState());
    run("openstack", "server", "reboot", "--hard", "--wait", id);
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(id, Duration.ofSeconds(120))
        .getVmState());
    // the blank test disk boots no OS, so nothing answers ACPI: after reboot.soft.timeout
    // (5 s here) the soft reboot falls back to a hard one, as Nova's does
    run("openstack", "server", "reboot", "--soft", "--wait", id);
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(id, Duration.ofSeconds(120))
        .getVmState());
    assertEquals("soft reboot fell back to a hard reboot", system.servers(MEMBER)
        .listServerActions(ListServerActionsRequest.newBuilder().setServerId(id).build())
        .getActions(0).getEvents(0).getDetails());

    JsonNode image = json("openstack", "server", "image", "create", "--wait", "--name",
        "os-client-snap", id);
    String imageId = image.get("id").asText();
    var grpcImage = system.images(MEMBER).getImage(GetImageRequest.newBuilder()
        .setImageId(imageId).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, grpcImage.getStatus());
    assertEquals("os-client-snap", grpcImage.getName());
    assertEquals(id, grpcImage.getPropertiesMap().get("instance_uuid"));
    system.awaitIdle(id, Duration.ofSeconds(120));

    List<String> events = new ArrayList<>();
    json("openstack", "server", "event", "list", id).forEach(e -> events.add(
        e.get("Action").asText() + " " + e.get("Request ID").asText()));
    List<String> actions = new ArrayList<>();
    system.servers(MEMBER).listServerActions(ListServerActionsRequest.newBuilder()
        .setServerId(id).build()).getActionsList().forEach(a -> actions.add(a.getAction() + " "
            + a.getRequestId()));
    assertEquals(actions, events, "the same actions, newest first, under the same request ids");
    assertEquals(List.of("createImage", "reboot", "reboot", "start", "stop", "create"),
        events.stream().map(e -> e.split(" ")[0]).toList());

    JsonNode images = json("openstack", "image", "list");
    assertEquals("active", find(images, "ID", imageId).get("Status").asText());
    JsonNode imageShown = json("openstack", "image", "show", imageId);
    assertEquals(grpcImage.getSize(), imageShown.get("size").asLong());
    assertEquals("os-client-snap", imageShown.get("name").asText());

    Path saved = home.resolve("saved.img");
    run("openstack", "image", "save", "--file", saved.toString(), imageId);
    Path downloaded = home.resolve("downloaded.img");
    run("glance", "image-download", "--file", downloaded.toString(), imageId);
    assertEquals(grpcImage.getSize(), Files.size(saved));
    assertEquals(sha256(saved), sha256(downloaded), "both clients got the same bytes");

    run("openstack", "image", "delete", imageId);
    StatusRuntimeException gone = assertThrows(StatusRuntimeException.class,
        () -> system.images(MEMBER).getImage(GetImageRequest.newBuilder().setImageId(imageId)
            .build()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
  }

  @Test
  void theGlanceApiRefusesWhatAClientGetsWrongAndChangesNothing() throws Exception {
    HttpClient http = HttpClient.newBuilder().sslContext(trusting(system.pki.caCert())).build();
    String glance = "https://127.0.0.1:" + system.glancePort;
    String member = keystoneToken(http, StratusSystem.OS_USER, "e2e-project");
    String other = keystoneToken(http, StratusSystem.OS_OTHER_USER, "other-project");
    String queued = system.images(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setName("glance-queued").setDiskFormat("raw").setContainerFormat("bare").build())
        .getImage().getId();

    assertEquals(401, get(http, glance + "/v2/images", null).statusCode());
    assertEquals(401, get(http, glance + "/v2/images", "not-a-token").statusCode());
    HttpResponse<String> shown = get(http, glance + "/v2/images/" + queued, member);
    assertEquals(200, shown.statusCode());
    // the fields of GET /v2/images/{id} in Glance's API reference (no locations or
    // direct_url: Glance leaves them out too unless an operator shows them)
    java.util.Set<String> fields = new java.util.TreeSet<>();
    JSON.readTree(shown.body()).fieldNames().forEachRemaining(fields::add);
    assertEquals(new java.util.TreeSet<>(java.util.Set.of("checksum", "container_format",
        "created_at", "disk_format", "file", "id", "min_disk", "min_ram", "name",
        "os_hash_algo", "os_hash_value", "os_hidden", "owner", "protected", "schema", "self",
        "size", "status", "tags", "updated_at", "virtual_size", "visibility")), fields);
    assertEquals(404, get(http, glance + "/v2/images/" + queued, other).statusCode(),
        "another project's private image does not exist for it");
    assertEquals(404, get(http, glance + "/v2/images/glance-queued", member).statusCode(),
        "a name is not an id: clients then search the list");
    assertEquals(204, get(http, glance + "/v2/images/" + queued + "/file", member).statusCode(),
        "a queued image has no data yet");
    HttpResponse<String> badLimit = get(http, glance + "/v2/images?limit=x", member);
    assertEquals(400, badLimit.statusCode());
    assertTrue(badLimit.body().contains("limit"), badLimit.body());
    HttpResponse<String> badSort = get(http, glance + "/v2/images?sort_key=owner_secret", member);
    assertEquals(400, badSort.statusCode());
    assertTrue(badSort.body().contains("sort_key"), badSort.body());
    HttpResponse<String> listed = get(http, glance + "/v2/images?name=glance-queued", other);
    assertEquals(0, JSON.readTree(listed.body()).get("images").size());

    HttpResponse<String> foreignDelete = http.send(HttpRequest.newBuilder(
        URI.create(glance + "/v2/images/" + queued)).DELETE().header("X-Auth-Token", other)
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, foreignDelete.statusCode());
    // nothing was changed by the refused calls
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, system.images(MEMBER).getImage(
        GetImageRequest.newBuilder().setImageId(queued).build()).getImage().getStatus());
  }

  @Test
  void imagesAreCreatedAndChangedThroughTheGlanceApi() throws Exception {
    // 3 MiB and a tail: random data, a MiB of zeros (sent as a zero extent), random again
    Path raw = home.resolve("upload.raw");
    byte[] content = new byte[(3 << 20) + 123];
    new java.util.Random(7).nextBytes(content);
    java.util.Arrays.fill(content, 1 << 20, 2 << 20, (byte) 0);
    Files.write(raw, content);
    JsonNode created = json("openstack", "image", "create", "--disk-format", "raw",
        "--container-format", "bare", "--property", "purpose=test", "--file", raw.toString(),
        "os-client-created");
    String id = created.get("id").asText();
    var image = system.images(MEMBER).getImage(GetImageRequest.newBuilder().setImageId(id)
        .build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(content.length, image.getSize());
    assertEquals("e2e-project", image.getOwner());
    assertEquals("test", image.getPropertiesMap().get("purpose"));
    Path back = home.resolve("upload-back.raw");
    run("openstack", "image", "save", "--file", back.toString(), id);
    assertEquals(sha256(raw), sha256(back), "the bytes uploaded are the bytes stored");

    // glanceclient sends its data chunked, without Content-Length
    String glanceOut = run("glance", "image-create", "--name", "glance-created",
        "--disk-format", "raw", "--container-format", "bare", "--file", raw.toString());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile(
        "\\|\\s*id\\s*\\|\\s*([0-9a-f-]{36})").matcher(glanceOut);
    assertTrue(m.find(), glanceOut);
    var chunked = system.images(MEMBER).getImage(GetImageRequest.newBuilder()
        .setImageId(m.group(1)).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, chunked.getStatus());
    assertEquals(content.length, chunked.getSize());
    run("glance", "image-delete", m.group(1));

    // only raw data is taken: another format is refused, and the image stays queued
    HttpClient client = HttpClient.newBuilder().sslContext(trusting(system.pki.caCert()))
        .build();
    String token = keystoneToken(client, StratusSystem.OS_USER, "e2e-project");
    String qcow = system.images(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setName("qcow").setDiskFormat("qcow2").setContainerFormat("bare").build())
        .getImage().getId();
    HttpResponse<String> refused = client.send(HttpRequest.newBuilder(URI.create(
        "https://127.0.0.1:" + system.glancePort + "/v2/images/" + qcow + "/file"))
        .PUT(HttpRequest.BodyPublishers.ofByteArray(content)).header("X-Auth-Token", token)
        .header("Content-Type", "application/octet-stream").build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(400, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("disk_format"), refused.body());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, system.images(MEMBER).getImage(
        GetImageRequest.newBuilder().setImageId(qcow).build()).getImage().getStatus());

    run("openstack", "image", "set", "--name", "os-client-renamed", "--property", "color=blue",
        id);
    run("openstack", "image", "unset", "--property", "purpose", id);
    image = system.images(MEMBER).getImage(GetImageRequest.newBuilder().setImageId(id).build())
        .getImage();
    assertEquals("os-client-renamed", image.getName());
    assertEquals("blue", image.getPropertiesMap().get("color"));
    assertFalse(image.getPropertiesMap().containsKey("purpose"));

    HttpClient http = HttpClient.newBuilder().sslContext(trusting(system.pki.caCert())).build();
    String member = keystoneToken(http, StratusSystem.OS_USER, "e2e-project");
    String other = keystoneToken(http, StratusSystem.OS_OTHER_USER, "other-project");
    String url = "https://127.0.0.1:" + system.glancePort + "/v2/images/" + id;
    assertEquals(200, patch(http, url, member, "application/openstack-images-v2.0-json-patch",
        "[{\"replace\": \"/color\", \"value\": \"red\"}]").statusCode(),
        "the older patch media type");
    assertEquals(415, patch(http, url, member, "application/json",
        "[{\"op\": \"add\", \"path\": \"/x\", \"value\": \"y\"}]").statusCode());
    assertEquals(403, patch(http, url, member, GLANCE_PATCH,
        "[{\"op\": \"replace\", \"path\": \"/status\", \"value\": \"active\"}]")
        .statusCode());
    assertEquals(409, patch(http, url, member, GLANCE_PATCH,
        "[{\"op\": \"remove\", \"path\": \"/no-such\"}]").statusCode());
    assertEquals(400, patch(http, url, member, GLANCE_PATCH, "{\"op\": 1").statusCode());
    assertEquals(404, patch(http, url, other, GLANCE_PATCH,
        "[{\"op\": \"add\", \"path\": \"/x\", \"value\": \"y\"}]").statusCode());
    image = system.images(MEMBER).getImage(GetImageRequest.newBuilder().setImageId(id).build())
        .getImage();
    assertEquals("red", image.getPropertiesMap().get("color"));
    assertFalse(image.getPropertiesMap().containsKey("x"), "no refused patch changed anything");

    run("openstack", "image", "delete", id);
    assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
        () -> system.images(MEMBER).getImage(GetImageRequest.newBuilder().setImageId(id)
            .build())).getStatus().getCode());
  }

  private static final String GLANCE_PATCH = "application/openstack-images-v2.1-json-patch";

  private static HttpResponse<String> patch(HttpClient http, String url, String token,
      String type, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url))
        .method("PATCH", HttpRequest.BodyPublishers.ofString(body))
        .header("X-Auth-Token", token).header("Content-Type", type).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> get(HttpClient http, String url, String token)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
    if (token != null) {
      b.header("X-Auth-Token", token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String keystoneToken(HttpClient http, String user, String project)
      throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
        + system.keystonePort + "/v3/auth/tokens")).POST(HttpRequest.BodyPublishers.ofString("""
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "%s",
          "domain": {"name": "Default"}, "password": "%s"}}},
          "scope": {"project": {"name": "%s", "domain": {"name": "Default"}}}}}"""
        .formatted(user, StratusSystem.OS_PASSWORD, project))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(201, r.statusCode(), r.body());
    return r.headers().firstValue("X-Subject-Token").orElseThrow();
  }

  /** A TLS context that trusts the run's CA (what OS_CACERT does for the clients). */
  private static SSLContext trusting(Path caPem) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (var in = Files.newInputStream(caPem)) {
      trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
          .generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private static JsonNode find(JsonNode rows, String key, String value) throws IOException {
    for (JsonNode row : rows) {
      if (row.path(key).asText().equals(value)) {
        return row;
      }
    }
    throw new AssertionError("no row with " + key + " " + value + " in " + rows);
  }
}
