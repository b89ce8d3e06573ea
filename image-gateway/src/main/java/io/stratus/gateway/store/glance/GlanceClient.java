package io.stratus.gateway.store.glance;

import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * HTTP/1.1 access to one Glance v2 API: builds requests with {@code Accept:
 * application/json} and, when a token is configured, {@code X-Auth-Token}; sends JSON
 * exchanges with a bounded wait and turns transport failures into UNAVAILABLE.
 *
 * <p>HTTP/1.1 is forced: Glance (eventlet) speaks nothing newer.
 */
final class GlanceClient implements AutoCloseable {
  /** Longest wait for a JSON answer (and for the headers of a download). */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  static final String JSON = "application/json";
  static final String JSON_PATCH = "application/openstack-images-v2.1-json-patch";

  /** A JSON exchange's outcome. */
  record Response(int status, String body) {
    boolean ok() {
      return status >= 200 && status < 300;
    }

    Map<String, Object> json() {
      try {
        return Json.parseObject(body);
      } catch (IllegalArgumentException e) {
        throw ApiException.unavailable("Glance sent an answer that is not a JSON object: "
            + e.getMessage(), e);
      }
    }
  }

  private final String base;
  private final String token;
  private final HttpClient http;

  GlanceClient(URI url, String token) {
    String s = url.toString();
    this.base = s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    this.token = token == null ? "" : token;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(CONNECT_TIMEOUT)
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
  }

  /** The API's base URL, for messages. */
  String base() {
    return base;
  }

  /** A request for {@code pathAndQuery} (which starts with {@code /v2/}) with our headers. */
  HttpRequest.Builder request(String pathAndQuery) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery))
        .header("Accept", JSON);
    if (!token.isEmpty()) {
      b.header("X-Auth-Token", token);
    }
    return b;
  }

  /** A JSON body publisher for {@code value}. */
  static HttpRequest.BodyPublisher json(Object value) {
    return HttpRequest.BodyPublishers.ofString(Json.write(value), StandardCharsets.UTF_8);
  }

  /** Sends a request whose answer is small (JSON or empty); UNAVAILABLE when Glance is not there. */
  Response exchange(HttpRequest.Builder request) {
    HttpRequest r = request.timeout(REQUEST_TIMEOUT).build();
    try {
      HttpResponse<String> answer = http.send(r,
          HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
      return new Response(answer.statusCode(), answer.body());
    } catch (IOException e) {
      throw GlanceErrors.unreachable(base, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw GlanceErrors.unreachable(base, e);
    }
  }

  /** Sends a request and hands back its answer's body as it arrives. */
  <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException {
    try {
      return http.send(request, handler);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while talking to Glance at " + base);
    }
  }

  /** Starts a request without waiting for it (the streaming upload). */
  <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request,
      HttpResponse.BodyHandler<T> handler) {
    return http.sendAsync(request, handler);
  }

  /** Stops the client; exchanges still in flight fail. */
  @Override
  public void close() {
    http.shutdownNow();
  }
}
