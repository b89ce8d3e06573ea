package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.identity.Tokens;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.HttpStatus;
import io.stratus.support.rest.RestError;
import io.stratus.support.rest.RestExchange;
import io.stratus.support.rest.Router;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;

/**
 * The Nova v2.1 subset (REST) over the same {@code ComputeApi} the gRPC API uses: version
 * discovery, microversion negotiation (served: {@value #MIN_VERSION} to {@value
 * #MAX_VERSION}), flavors, and the servers routes of {@link NovaServersApi}. Callers
 * authenticate with a Keystone token ({@code X-Auth-Token}); failures are Nova's fault
 * bodies ({@code {"itemNotFound": {"code": 404, "message": …}}}).
 */
public final class NovaApi {
  static final String MIN_VERSION = "2.1";
  static final String MAX_VERSION = "2.1";
  private static final Map<Integer, String> FAULTS = Map.ofEntries(
      Map.entry(400, "badRequest"), Map.entry(401, "unauthorized"),
      Map.entry(403, "forbidden"), Map.entry(404, "itemNotFound"),
      Map.entry(405, "badMethod"), Map.entry(406, "notAcceptable"),
      Map.entry(409, "conflictingRequest"), Map.entry(413, "overLimit"),
      Map.entry(415, "badMediaType"), Map.entry(501, "notImplemented"),
      Map.entry(503, "serviceUnavailable"));

  private final Tokens tokens;
  private final Flavors flavors;
  private final String authUrl;

  public NovaApi(Tokens tokens, Flavors flavors, String authUrl) {
    this.tokens = tokens;
    this.flavors = flavors;
    this.authUrl = authUrl;
  }

  /** Adds the version and flavor routes to {@code router}. */
  public void routes(Router router) {
    router.get("/", this::versions)
        .get("/v2.1", x -> x.json(200, Map.of("version", version(x))))
        .get("/v2.1/flavors", x -> flavors(x, false))
        .get("/v2.1/flavors/detail", x -> flavors(x, true))
        .get("/v2.1/flavors/{id}", x -> {
          caller(x);
          x.json(200, Map.of("flavor", Flavors.json(x.baseUrl(), flavors.find(x.param("id")),
              true)));
        })
        .get("/v2.1/flavors/{id}/os-extra_specs", x -> {
          caller(x);
          flavors.find(x.param("id"));
          x.json(200, Map.of("extra_specs", Map.of()));  // Stratus flavors have none
        });
  }

  private void versions(RestExchange x) throws IOException {
    ArrayNode list = RestExchange.JSON.createArrayNode();
    list.add(version(x));
    x.json(200, Map.of("versions", list));
  }

  private ObjectNode version(RestExchange x) {
    ObjectNode v = RestExchange.JSON.createObjectNode();
    v.put("id", "v2.1").put("status", "CURRENT").put("version", MAX_VERSION)
        .put("min_version", MIN_VERSION).put("updated", "2013-07-23T11:33:21Z");
    v.putArray("links").addObject().put("rel", "self").put("href", x.baseUrl() + "/v2.1/");
    v.putArray("media-types").addObject().put("base", "application/json")
        .put("type", "application/vnd.openstack.compute+json;version=2.1");
    return v;
  }

  private void flavors(RestExchange x, boolean detail) throws IOException {
    caller(x);
    ArrayNode list = RestExchange.JSON.createArrayNode();
    flavors.list().forEach(f -> list.add(Flavors.json(x.baseUrl(), f, detail)));
    x.json(200, Map.of("flavors", list));
  }

  /**
   * The caller of a request, from {@code X-Auth-Token}, after the microversion check; 401
   * without a valid token.
   */
  Caller caller(RestExchange x) {
    negotiate(x);
    return tokens.resolve(x.header("X-Auth-Token")).orElseThrow(
        () -> ApiException.unauthenticated("The request you have made requires authentication."));
  }

  /**
   * The server id in the path; a name or anything not shaped like an id is a server that
   * does not exist (404, as Nova answers: clients then look the name up in a list).
   */
  static String serverId(RestExchange x) {
    String id = x.param("id");
    try {
      java.util.UUID.fromString(id);
      return id;
    } catch (IllegalArgumentException e) {
      throw ApiException.notFound("Instance " + id + " could not be found.");
    }
  }

  /**
   * Checks the microversion asked for ({@code OpenStack-API-Version: compute X.Y} or the
   * older {@code X-OpenStack-Nova-API-Version}) and names the one served in the answer.
   */
  static void negotiate(RestExchange x) {
    x.responseHeader("OpenStack-API-Version", "compute " + MAX_VERSION)
        .responseHeader("X-OpenStack-Nova-API-Version", MAX_VERSION)
        .responseHeader("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    String asked = null;
    String header = x.header("OpenStack-API-Version");
    if (header != null) {
      String[] parts = header.strip().split("\\s+");
      if (parts.length == 2 && parts[0].toLowerCase(Locale.ROOT).equals("compute")) {
        asked = parts[1];
      }
    } else {
      asked = x.header("X-OpenStack-Nova-API-Version");
    }
    if (asked == null || asked.equals("latest") || asked.equals(MAX_VERSION)
        || asked.equals(MIN_VERSION)) {
      return;
    }
    if (!asked.matches("2\\.\\d{1,3}")) {
      throw ApiException.invalidArgument("OpenStack-API-Version",
          "Invalid API version request string " + asked);
    }
    throw new RestError(406, "Version " + asked + " is not supported by the API. Minimum is "
        + MIN_VERSION + " and maximum is " + MAX_VERSION + ".");
  }

  /** Nova's fault body for a failure; a 401 names Keystone in WWW-Authenticate. */
  void fault(RestExchange x, Throwable e) throws IOException {
    int status = HttpStatus.of(e);
    if (status == 401) {
      x.responseHeader("WWW-Authenticate", "Keystone uri=\"" + authUrl + "\"");
    }
    ObjectNode body = RestExchange.JSON.createObjectNode();
    body.putObject(FAULTS.getOrDefault(status, "computeFault")).put("code", status)
        .put("message", HttpStatus.message(e));
    x.json(status, body);
  }
}
