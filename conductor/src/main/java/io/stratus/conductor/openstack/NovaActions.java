package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.JsonNode;
import io.stratus.conductor.compute.Accepted;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestExchange;
import java.io.IOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * {@code POST /v2.1/servers/{id}/action}: the one verb the body names, onto {@link
 * ComputeApi}. Answers are Nova's: 202 without a body, and for {@code createImage} the new
 * image's URL in {@code Location} (at 2.1; the JSON {@code image_id} came with 2.45).
 */
final class NovaActions {
  private final NovaApi nova;
  private final ComputeApi compute;
  private final String imageUrl;

  NovaActions(NovaApi nova, ComputeApi compute, String imageUrl) {
    this.nova = nova;
    this.compute = compute;
    this.imageUrl = imageUrl;
  }

  void act(RestExchange x) throws IOException {
    Caller c = nova.caller(x);
    String id = NovaApi.serverId(x);
    JsonNode body = x.json();
    if (!body.isObject() || body.size() != 1) {
      throw ApiException.invalidArgument("body", "an action body names exactly one action");
    }
    String verb = body.fieldNames().next();
    JsonNode args = body.get(verb);
    switch (verb) {
      case "createImage" -> createImage(x, c, id, args);
      case "os-start" -> compute.operations().start(c, id);
      case "os-stop" -> compute.operations().stop(c, id, 0);
      case "reboot" -> reboot(c, id, args);
      case "lock" -> compute.operations().lock(c, id,
          args.path("locked_reason").isTextual() ? args.get("locked_reason").asText() : null);
      case "unlock" -> compute.operations().unlock(c, id);
      default -> throw ApiException.invalidArgument("body",
          "action '" + verb + "' is not served by Stratus (served: createImage, os-start,"
              + " os-stop, reboot, lock, unlock)");
    }
    if (!x.answered()) {
      x.empty(202);
    }
  }

  private void createImage(RestExchange x, Caller c, String id, JsonNode args)
      throws IOException {
    String name = NovaServersApi.required(args, "name");
    Map<String, String> metadata = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = args.path("metadata").fields();
        it.hasNext();) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isTextual()) {
        throw ApiException.invalidArgument("metadata." + e.getKey(), "must be a string");
      }
      metadata.put(e.getKey(), e.getValue().asText());
    }
    Accepted a = compute.operations().createImage(c, id, name, metadata);
    String base = imageUrl != null ? imageUrl : x.baseUrl();
    x.responseHeader("Location", base + "/v2/images/" + a.imageId());
    x.empty(202);
  }

  private void reboot(Caller c, String id, JsonNode args) {
    String type = args.path("type").asText("").toUpperCase(Locale.ROOT);
    switch (type) {
      case "HARD" -> compute.operations().rebootHard(c, id);
      case "SOFT" -> compute.operations().rebootSoft(c, id);
      default -> throw ApiException.invalidArgument("reboot.type", "must be SOFT or HARD");
    }
  }
}
