package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.compute.Accepted;
import io.stratus.conductor.compute.ActionView;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.conductor.compute.ServerCreation;
import io.stratus.conductor.compute.ServerQuery;
import io.stratus.conductor.compute.ServerView;
import io.stratus.conductor.compute.VolumePlan;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.VmState;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestExchange;
import io.stratus.support.rest.Router;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Nova's servers routes at 2.1, each a translation onto {@link ComputeApi} (no rule of its
 * own): list (brief and detail, with Nova's filters and marker paging), show, create,
 * delete, the {@code action} verbs Stratus does ({@code createImage}, {@code os-start},
 * {@code os-stop}, {@code reboot}, {@code lock}, {@code unlock}), and {@code
 * os-instance-actions}.
 */
public final class NovaServersApi {
  /** Nova's {@code max_limit}: the longest page. */
  static final int MAX_LIMIT = 1000;

  private final NovaApi nova;
  private final ComputeApi compute;
  private final Flavors flavors;
  private final String imageUrl;

  public NovaServersApi(NovaApi nova, ComputeApi compute, Flavors flavors, String imageUrl) {
    this.nova = nova;
    this.compute = compute;
    this.flavors = flavors;
    this.imageUrl = imageUrl;
  }

  /** Adds the servers routes to {@code router}. */
  public void routes(Router router) {
    router.get("/v2.1/servers", x -> list(x, false))
        .get("/v2.1/servers/detail", x -> list(x, true))
        .post("/v2.1/servers", this::create)
        .get("/v2.1/servers/{id}", this::show)
        .delete("/v2.1/servers/{id}", this::delete)
        .post("/v2.1/servers/{id}/action", new NovaActions(nova, compute, imageUrl)::act)
        .get("/v2.1/servers/{id}/os-instance-actions", this::actions)
        .get("/v2.1/servers/{id}/os-instance-actions/{request}", this::action);
  }

  private void list(RestExchange x, boolean detail) throws IOException {
    Caller c = nova.caller(x);
    boolean all = truthy(x.query("all_tenants"));
    String host = x.query("host");
    if ((all || host != null) && !c.admin()) {
      if (host != null) {
        throw ApiException.permissionDenied("host: only admins may filter by host");
      }
      all = false;  // Nova ignores all_tenants for a member
    }
    int limit = MAX_LIMIT;
    if (x.query("limit") != null) {
      try {
        limit = Integer.parseInt(x.query("limit"));
      } catch (NumberFormatException e) {
        throw ApiException.invalidArgument("limit", "must be an integer");
      }
      if (limit < 0) {
        throw ApiException.invalidArgument("limit", "must be >= 0");
      }
      limit = Math.min(limit, MAX_LIMIT);
    }
    ServerView after = null;
    if (x.query("marker") != null) {
      try {
        after = compute.reads().get(c, x.query("marker"));
      } catch (ApiException e) {
        throw ApiException.invalidArgument("marker", "marker [" + x.query("marker")
            + "] not found");
      }
    }
    VmState vm = x.query("status") == null ? null : vmState(x.query("status"));
    String name = x.query("name");
    List<ServerView> servers = compute.reads().list(c, new ServerQuery(all, vm, host,
        null, false, after == null ? null : after.createdAt(),
        after == null ? null : after.uuid(), limit));
    ArrayNode list = RestExchange.JSON.createArrayNode();
    String base = x.baseUrl();
    for (ServerView s : servers) {
      if (name == null || s.name().contains(name)) {
        list.add(detail ? NovaViews.detail(base, s, c.admin(), flavors) : NovaViews.brief(base, s));
      }
    }
    ObjectNode body = RestExchange.JSON.createObjectNode();
    body.set("servers", list);
    if (servers.size() == limit && limit > 0) {
      body.putArray("servers_links").addObject().put("rel", "next").put("href", base
          + "/v2.1/servers" + (detail ? "/detail" : "") + "?limit=" + limit + "&marker="
          + servers.get(servers.size() - 1).uuid());
    }
    x.json(200, body);
  }

  private void show(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    ServerView s = compute.reads().get(c, NovaApi.serverId(x));
    x.json(200, Map.of("server", NovaViews.detail(x.baseUrl(), s, c.admin(), flavors)));
  }

  private void delete(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    compute.operations().delete(c, NovaApi.serverId(x));
    x.empty(204);
  }

  private void create(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    JsonNode s = x.json().path("server");
    if (!s.isObject()) {
      throw ApiException.invalidArgument("server", "the body must hold a 'server' object");
    }
    Flavors.Flavor flavor = flavors.find(lastSegment(required(s, "flavorRef")));
    List<VolumePlan.BlockDevice> devices = new ArrayList<>();
    String imageRef = s.path("imageRef").asText("");
    for (JsonNode d : s.path("block_device_mapping_v2")) {
      String source = d.path("source_type").asText("unspecified");
      String target = d.path("destination_type").asText("volume");
      int bootIndex = d.path("boot_index").asInt(-1);
      if (target.equals("local")) {
        // Nova's way of naming the image an ordinary root disk comes from
        if (source.equals("image") && bootIndex == 0 && imageRef.isEmpty()) {
          imageRef = d.path("uuid").asText("");
        }
        continue;
      }
      devices.add(new VolumePlan.BlockDevice(source, d.path("uuid").asText(""),
          d.path("volume_size").asInt(0), bootIndex,
          d.path("delete_on_termination").asBoolean(false)));
    }
    if (imageRef.isEmpty()) {
      // boot from volume: the image the boot volume is made from is the server's image
      imageRef = devices.stream().filter(d -> d.bootIndex() == 0 && d.sourceType().equals("image"))
          .map(VolumePlan.BlockDevice::uuid).findFirst().orElse("");
    }
    if (imageRef.isEmpty() && devices.isEmpty()) {
      throw ApiException.invalidArgument("imageRef", "required unless booting from a volume");
    }
    Map<String, String> metadata = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = s.path("metadata").fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> e = it.next();
      metadata.put(e.getKey(), e.getValue().asText());
    }
    Accepted a = compute.creation().createServer(c, new ServerCreation.BootRequest(
        required(s, "name"), lastSegment(imageRef), flavor.vcpus(), flavor.ramMb(),
        flavor.diskGb(), "", RootDiskKind.LOCAL,
        metadata, devices));
    ObjectNode server = RestExchange.JSON.createObjectNode();
    server.put("id", a.instance().toString());
    server.set("links", NovaViews.links(x.baseUrl(), c.projectId(), "servers",
        a.instance().toString()));
    server.put("OS-DCF:diskConfig", "MANUAL");
    server.putArray("security_groups").addObject().put("name", "default");
    x.responseHeader("Location", x.baseUrl() + "/v2.1/servers/" + a.instance());
    x.json(202, Map.of("server", server));
  }

  private void actions(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    ArrayNode list = RestExchange.JSON.createArrayNode();
    for (ActionView a : compute.reads().actions(c, NovaApi.serverId(x))) {
      list.add(NovaViews.action(a, false, c.admin()));
    }
    x.json(200, Map.of("instanceActions", list));
  }

  private void action(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    String request = x.param("request");
    ActionView a = compute.reads().actions(c, NovaApi.serverId(x)).stream()
        .filter(v -> v.requestId().equals(request)).findFirst()
        .orElseThrow(() -> ApiException.notFound("Action " + request + " not found"));
    x.json(200, Map.of("instanceAction", NovaViews.action(a, true, c.admin())));
  }

  private static VmState vmState(String status) {
    return switch (status.toUpperCase(Locale.ROOT)) {
      case "ACTIVE" -> VmState.ACTIVE;
      case "SHUTOFF" -> VmState.STOPPED;
      case "BUILD" -> VmState.BUILDING;
      case "ERROR" -> VmState.ERROR;
      case "PAUSED" -> VmState.PAUSED;
      case "SUSPENDED" -> VmState.SUSPENDED;
      default -> throw ApiException.invalidArgument("status", "Invalid status value " + status);
    };
  }

  static String required(JsonNode node, String field) {
    JsonNode v = node.path(field);
    if (!v.isTextual() || v.asText().isEmpty()) {
      throw ApiException.invalidArgument(field, "a non-empty string is required");
    }
    return v.asText();
  }

  /** An id, or the last path segment of a URL naming one (Nova accepts both). */
  private static String lastSegment(String ref) {
    int slash = ref.lastIndexOf('/');
    return slash < 0 ? ref : ref.substring(slash + 1);
  }

  private static boolean truthy(String v) {
    return v != null && (v.isEmpty() || v.equals("1") || v.equalsIgnoreCase("true")
        || v.equalsIgnoreCase("yes"));
  }
}
