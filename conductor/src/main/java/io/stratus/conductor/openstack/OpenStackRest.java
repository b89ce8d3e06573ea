package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.compute.ComputeApi;
import io.stratus.conductor.config.OpenStackSettings;
import io.stratus.conductor.identity.Tokens;
import io.stratus.conductor.identity.Users;
import io.stratus.support.rest.HttpStatus;
import io.stratus.support.rest.RestExchange;
import io.stratus.support.rest.RestServer;
import io.stratus.support.rest.Router;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;

/**
 * The conductor's OpenStack REST APIs, each on its own port as in an OpenStack cloud: the
 * Keystone subset and the Nova subset ({@link OpenStackSettings}), over HTTPS with the
 * conductor's certificate when it has one. Users configured for bootstrap are created
 * (or reset) first.
 */
public final class OpenStackRest implements AutoCloseable {
  private static final List<String> REQUEST_ID_HEADERS =
      List.of("x-openstack-request-id", "x-compute-request-id");
  private final List<RestServer> servers;

  private OpenStackRest(List<RestServer> servers) {
    this.servers = servers;
  }

  /** Starts the enabled APIs (none: nothing listens). */
  public static OpenStackRest start(OpenStackSettings settings, ComputeApi compute,
      Tokens tokens, Users users, SSLContext tls) throws IOException {
    List<RestServer> servers = new ArrayList<>();
    try {
      if (!settings.users().isEmpty()) {
        users.bootstrap(settings.users().stream().map(u -> new Users.Bootstrap(u.name(),
            u.projectId(), u.role(), u.password())).toList());
      }
      String scheme = tls == null ? "http" : "https";
      String authUrl = scheme + "://" + settings.identity().host() + ":"
          + settings.identity().port() + "/v3";
      Flavors flavors = Flavors.parse(settings.flavors());
      if (settings.identity().enabled()) {
        Router r = new Router();
        new KeystoneApi(users, tokens, new Catalog(settings.region(),
            computeUrl(settings, scheme), settings.imageUrl())).routes(r);
        servers.add(RestServer.start("keystone", settings.identity().host(),
            settings.identity().port(), tls, r, OpenStackRest::keystoneError,
            REQUEST_ID_HEADERS));
      }
      if (settings.compute().enabled()) {
        Router r = new Router();
        NovaApi nova = new NovaApi(tokens, flavors, authUrl);
        nova.routes(r);
        new NovaServersApi(nova, compute, flavors, settings.imageUrl()).routes(r);
        servers.add(RestServer.start("nova", settings.compute().host(),
            settings.compute().port(), tls, r, nova::fault, REQUEST_ID_HEADERS));
      }
    } catch (IOException | RuntimeException e) {
      servers.forEach(RestServer::close);
      throw e;
    }
    return new OpenStackRest(servers);
  }

  private static String computeUrl(OpenStackSettings s, String scheme) {
    if (s.computeUrl() != null || !s.compute().enabled()) {
      return s.computeUrl();
    }
    return scheme + "://" + s.compute().host() + ":" + s.compute().port() + "/v2.1";
  }

  /** Keystone's error body: {@code {"error": {"code", "message", "title"}}}. */
  static void keystoneError(RestExchange x, Throwable e) throws IOException {
    int status = HttpStatus.of(e);
    ObjectNode body = RestExchange.JSON.createObjectNode();
    body.putObject("error").put("code", status).put("message", HttpStatus.message(e))
        .put("title", TITLES.getOrDefault(status, "Internal Server Error"));
    x.json(status, body);
  }

  private static final Map<Integer, String> TITLES = Map.of(400, "Bad Request",
      401, "Unauthorized", 403, "Forbidden", 404, "Not Found", 405, "Method Not Allowed",
      409, "Conflict", 413, "Request Entity Too Large", 503, "Service Unavailable");

  /** The ports listened on, identity first (when enabled). */
  public List<Integer> ports() {
    return servers.stream().map(RestServer::port).toList();
  }

  @Override
  public void close() {
    servers.forEach(RestServer::close);
  }
}
