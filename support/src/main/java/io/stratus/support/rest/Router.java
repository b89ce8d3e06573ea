package io.stratus.support.rest;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An HTTP API's routes: a method and a path pattern whose {@code {name}} segments capture
 * one path segment each. A path that matches a route of another method only is a 405
 * (with {@code Allow}); no route at all is a 404.
 */
public final class Router {
  /** Serves one request. */
  @FunctionalInterface
  public interface Handler {
    void handle(RestExchange exchange) throws Exception;
  }

  private record Route(String method, String[] segments, Handler handler) {}

  /** A route found for a request, with the captured path segments. */
  record Match(Handler handler, Map<String, String> params, List<String> allowed) {}

  private final List<Route> routes = new ArrayList<>();

  /** Adds a route; {@code pattern} is {@code /a/{b}/c}, without a trailing slash. */
  public Router add(String method, String pattern, Handler handler) {
    routes.add(new Route(method, split(pattern), handler));
    return this;
  }

  public Router get(String pattern, Handler handler) {
    return add("GET", pattern, handler);
  }

  public Router post(String pattern, Handler handler) {
    return add("POST", pattern, handler);
  }

  public Router put(String pattern, Handler handler) {
    return add("PUT", pattern, handler);
  }

  public Router patch(String pattern, Handler handler) {
    return add("PATCH", pattern, handler);
  }

  public Router delete(String pattern, Handler handler) {
    return add("DELETE", pattern, handler);
  }

  /**
   * The route for {@code method} on {@code path} (a trailing slash is ignored; HEAD is
   * served by GET's route); empty when no pattern matches the path. When patterns match
   * but none of the method, the match has no handler and lists the allowed methods.
   */
  Optional<Match> match(String method, String path) {
    String[] parts = split(path);
    List<String> allowed = new ArrayList<>();
    for (Route r : routes) {
      Map<String, String> params = bind(r.segments(), parts);
      if (params == null) {
        continue;
      }
      if (r.method().equals(method) || (method.equals("HEAD") && r.method().equals("GET"))) {
        return Optional.of(new Match(r.handler(), params, List.of()));
      }
      allowed.add(r.method());
    }
    return allowed.isEmpty() ? Optional.empty()
        : Optional.of(new Match(null, Map.of(), List.copyOf(allowed)));
  }

  private static Map<String, String> bind(String[] pattern, String[] parts) {
    if (pattern.length != parts.length) {
      return null;
    }
    Map<String, String> params = new HashMap<>();
    for (int i = 0; i < pattern.length; i++) {
      String p = pattern[i];
      if (p.startsWith("{") && p.endsWith("}")) {
        if (parts[i].isEmpty()) {
          return null;
        }
        params.put(p.substring(1, p.length() - 1), parts[i]);
      } else if (!p.equals(parts[i])) {
        return null;
      }
    }
    return params;
  }

  private static String[] split(String path) {
    String p = path;
    while (p.endsWith("/") && p.length() > 1) {
      p = p.substring(0, p.length() - 1);
    }
    if (p.equals("/") || p.isEmpty()) {
      return new String[0];
    }
    return (p.startsWith("/") ? p.substring(1) : p).split("/", -1);
  }
}
