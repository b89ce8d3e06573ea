package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.identity.TokenView;
import io.stratus.conductor.identity.Tokens;
import io.stratus.conductor.identity.Users;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestExchange;
import io.stratus.support.rest.Router;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Keystone v3 subset (REST): version discovery, {@code POST /v3/auth/tokens} with the
 * {@code password} and {@code token} methods scoped to the user's project, and {@code GET}
 * / {@code HEAD /v3/auth/tokens} validation. A Keystone token is a Stratus API token (the
 * same record, hash and expiry; {@link Tokens}); users are {@link Users}. The service
 * catalog names the {@code compute} and {@code image} endpoints of {@link Catalog}.
 */
public final class KeystoneApi {
  /** How long an issued token lives (Keystone's default expiration, one hour). */
  static final long TOKEN_TTL_SECONDS = 3600;

  private final Users users;
  private final Tokens tokens;
  private final Catalog catalog;

  public KeystoneApi(Users users, Tokens tokens, Catalog catalog) {
    this.users = users;
    this.tokens = tokens;
    this.catalog = catalog;
  }

  /** Adds the routes to {@code router}. */
  public void routes(Router router) {
    router.get("/v3", this::version)
        .post("/v3/auth/tokens", this::issue)
        .get("/v3/auth/tokens", this::validate);
  }

  private void version(RestExchange x) throws IOException {
    ObjectNode v = RestExchange.JSON.createObjectNode();
    ObjectNode version = v.putObject("version");
    version.put("id", "v3.14").put("status", "stable").put("updated", "2020-04-07T00:00:00Z");
    version.putArray("links").addObject().put("rel", "self").put("href", x.baseUrl() + "/v3/");
    version.putArray("media-types").addObject().put("base", "application/json")
        .put("type", "application/vnd.openstack.identity-v3+json");
    x.json(200, v);
  }

  /** {@code POST /v3/auth/tokens}: a new token, in {@code X-Subject-Token}. */
  private void issue(RestExchange x) throws IOException {
    JsonNode auth = x.json().path("auth");
    JsonNode identity = auth.path("identity");
    List<String> methods = new ArrayList<>();
    identity.path("methods").forEach(m -> methods.add(m.asText()));
    Users.User user;
    String method;
    if (methods.contains("password")) {
      JsonNode u = identity.path("password").path("user");
      String domain = text(u.path("domain"), "name", text(u.path("domain"), "id", null));
      user = users.authenticate(domain, text(u, "name", null), text(u, "id", null),
          text(u, "password", null));
      method = "password";
    } else if (methods.contains("token")) {
      String secret = text(identity.path("token"), "id", null);
      TokenView t = tokens.describe(secret).orElseThrow(KeystoneApi::unauthorized);
      user = users.find(t.userId()).orElseThrow(KeystoneApi::unauthorized);
      method = "token";
    } else {
      throw ApiException.invalidArgument("auth.identity.methods",
          "must name \"password\" or \"token\"");
    }
    JsonNode project = auth.path("scope").path("project");
    if (!project.isMissingNode()) {
      String id = text(project, "id", null);
      String name = text(project, "name", null);
      if (!user.projectId().equals(id) && !user.projectId().equals(name)) {
        throw unauthorized();
      }
    }
    Tokens.Issued issued = tokens.issueAuthenticated(user.projectId(), user.id(), user.role(),
        TOKEN_TTL_SECONDS, method);
    x.responseHeader("X-Subject-Token", issued.secret());
    x.json(201, body(x, issued.view(), user, List.of(method)));
  }

  /** {@code GET /v3/auth/tokens}: the token in {@code X-Subject-Token}, if valid. */
  private void validate(RestExchange x) throws IOException {
    if (tokens.resolve(x.header("X-Auth-Token")).isEmpty()) {
      throw unauthorized();
    }
    String subject = x.header("X-Subject-Token");
    TokenView t = tokens.describe(subject).orElseThrow(
        () -> ApiException.notFound("Could not find token: " + subject));
    Users.User user = users.find(t.userId()).orElseThrow(
        () -> ApiException.notFound("Could not find token: " + subject));
    x.responseHeader("X-Subject-Token", subject);
    x.json(200, body(x, t, user, List.of("password")));
  }

  private ObjectNode body(RestExchange x, TokenView t, Users.User user, List<String> methods) {
    ObjectNode root = RestExchange.JSON.createObjectNode();
    ObjectNode token = root.putObject("token");
    ArrayNode m = token.putArray("methods");
    methods.forEach(m::add);
    ObjectNode u = token.putObject("user");
    u.put("id", user.id()).put("name", user.name()).putNull("password_expires_at");
    domain(u.putObject("domain"));
    token.putArray("audit_ids").add(t.id().toString().replace("-", "").substring(0, 22));
    token.put("expires_at", time(t.expiresAt()));
    token.put("issued_at", time(t.createdAt()));
    ObjectNode p = token.putObject("project");
    p.put("id", user.projectId()).put("name", user.projectId());
    domain(p.putObject("domain"));
    token.put("is_domain", false);
    ArrayNode roles = token.putArray("roles");
    roles.addObject().put("id", "member").put("name", "member");
    roles.addObject().put("id", "reader").put("name", "reader");
    if (user.role() == ApiToken.Role.ADMIN) {
      roles.addObject().put("id", "admin").put("name", "admin");
    }
    token.set("catalog", catalog.json(x.baseUrl()));
    return root;
  }

  private static void domain(ObjectNode d) {
    d.put("id", Users.DEFAULT_DOMAIN).put("name", "Default");
  }

  /** Keystone's time format: microseconds, Z. */
  static String time(Instant t) {
    return t == null ? null : java.time.format.DateTimeFormatter
        .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'", Locale.ROOT)
        .withZone(java.time.ZoneOffset.UTC).format(t);
  }

  private static String text(JsonNode node, String field, String otherwise) {
    JsonNode v = node.path(field);
    return v.isTextual() ? v.asText() : otherwise;
  }

  private static ApiException unauthorized() {
    return ApiException.unauthenticated("The request you have made requires authentication.");
  }
}
