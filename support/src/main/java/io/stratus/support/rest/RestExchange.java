package io.stratus.support.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One HTTP request and its answer, for an API adapter: path parameters, query
 * parameters, headers, a bounded JSON body, and JSON, empty or streamed answers. Every
 * answer carries the request's id in the headers its {@link RestServer} names.
 */
public final class RestExchange {
  /** The JSON mapper every adapter writes and reads with. */
  public static final ObjectMapper JSON = new ObjectMapper()
      .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
  /** The largest JSON body read (requests of these APIs are small). */
  public static final int MAX_JSON_BYTES = 1 << 20;

  private final HttpExchange http;
  private final Map<String, String> params;
  private final Map<String, List<String>> query;
  private final String requestId;
  private boolean answered;

  RestExchange(HttpExchange http, Map<String, String> params, String requestId) {
    this.http = http;
    this.params = Map.copyOf(params);
    this.query = parseQuery(http.getRequestURI().getRawQuery());
    this.requestId = requestId;
  }

  public String method() {
    return http.getRequestMethod();
  }

  public String path() {
    return http.getRequestURI().getPath();
  }

  /** This request's id ({@code req-UUID}). */
  public String requestId() {
    return requestId;
  }

  /** A captured path segment of the route. */
  public String param(String name) {
    return params.get(name);
  }

  /** The first value of a query parameter, or null. */
  public String query(String name) {
    List<String> v = query.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** Every value of a query parameter (empty when absent). */
  public List<String> queryAll(String name) {
    return query.getOrDefault(name, List.of());
  }

  /** The query parameters, in order. */
  public Map<String, List<String>> queryParams() {
    return query;
  }

  /** A request header, or null. */
  public String header(String name) {
    return http.getRequestHeaders().getFirst(name);
  }

  /** The base URL the client used (scheme, Host header), without a trailing slash. */
  public String baseUrl() {
    String host = header("Host");
    if (host == null) {
      host = http.getLocalAddress().getHostString() + ":" + http.getLocalAddress().getPort();
    }
    String scheme = http instanceof com.sun.net.httpserver.HttpsExchange ? "https" : "http";
    return scheme + "://" + host;
  }

  /** Sets a response header (before the answer). */
  public RestExchange responseHeader(String name, String value) {
    http.getResponseHeaders().set(name, value);
    return this;
  }

  /**
   * The body as JSON; INVALID_ARGUMENT naming {@code "body"} when it is missing, too big or
   * not JSON.
   */
  public JsonNode json() throws IOException {
    byte[] body;
    try (InputStream in = http.getRequestBody()) {
      body = in.readNBytes(MAX_JSON_BYTES + 1);
    }
    if (body.length > MAX_JSON_BYTES) {
      throw ApiException.resourceExhausted("body: larger than " + MAX_JSON_BYTES + " bytes");
    }
    if (body.length == 0) {
      throw ApiException.invalidArgument("body", "a JSON body is required");
    }
    try {
      return JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw ApiException.invalidArgument("body", "not valid JSON: " + e.getOriginalMessage());
    }
  }

  /** The body as a stream (uploads); read it before answering. */
  public InputStream body() {
    return http.getRequestBody();
  }

  /** Whether an answer was started. */
  public boolean answered() {
    return answered;
  }

  /** Answers {@code status} with {@code body} as JSON ({@code application/json}). */
  public void json(int status, Object body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    send(status, "application/json", bytes);
  }

  /** Answers {@code status} with a body of {@code contentType}. */
  public void send(int status, String contentType, byte[] bytes) throws IOException {
    answered = true;
    if (contentType != null) {
      http.getResponseHeaders().set("Content-Type", contentType);
    }
    boolean head = method().equals("HEAD");
    http.sendResponseHeaders(status, head || bytes.length == 0 ? -1 : bytes.length);
    if (!head && bytes.length > 0) {
      try (OutputStream out = http.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  /** Answers {@code status} without a body (204, 202 …). */
  public void empty(int status) throws IOException {
    answered = true;
    http.getResponseHeaders().remove("Content-Type");
    http.sendResponseHeaders(status, -1);
  }

  /**
   * Starts a streamed answer of {@code length} bytes (-1: unknown, sent chunked); the
   * caller writes the body to the stream and closes it.
   */
  public OutputStream stream(int status, String contentType, long length) throws IOException {
    answered = true;
    http.getResponseHeaders().set("Content-Type", contentType);
    if (length >= 0) {
      http.getResponseHeaders().set("Content-Length", Long.toString(length));
    }
    http.sendResponseHeaders(status, length < 0 ? 0 : length == 0 ? -1 : length);
    return http.getResponseBody();
  }

  private static Map<String, List<String>> parseQuery(String raw) {
    Map<String, List<String>> q = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return q;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String k = decode(eq < 0 ? pair : pair.substring(0, eq));
      String v = eq < 0 ? "" : decode(pair.substring(eq + 1));
      q.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
    return q;
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidArgument("query", "malformed percent-encoding in " + s);
    }
  }
}
