package io.stratus.support.rest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.stratus.support.grpc.RequestIds;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An HTTP(S) server for one REST API: the JDK's own server ({@code com.sun.net.httpserver},
 * nothing to add for a few small JSON routes and streamed bodies) on virtual threads,
 * routing with a {@link Router}. Every request gets an id ({@code req-UUID}), answered in
 * the headers {@code requestIdHeaders} name and held as the work's id ({@link
 * RequestIds#withId}) so that the logs and the actions it records carry it. Failures are
 * turned into the API's own error bodies by its {@link ErrorMapper}.
 */
public final class RestServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RestServer.class);

  /** Answers a failed request in the API's own error format. */
  @FunctionalInterface
  public interface ErrorMapper {
    /** Answers {@code error} on {@code exchange} (not yet answered). */
    void answer(RestExchange exchange, Throwable error) throws IOException;
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final String name;

  private RestServer(HttpServer server, ExecutorService executor, String name) {
    this.server = server;
    this.executor = executor;
    this.name = name;
  }

  /**
   * Starts serving {@code router} on {@code host:port} (0: a free port), over HTTPS when
   * {@code tls} is given.
   */
  public static RestServer start(String name, String host, int port, SSLContext tls,
      Router router, ErrorMapper errors, List<String> requestIdHeaders) throws IOException {
    HttpServer server;
    if (tls != null) {
      HttpsServer https = HttpsServer.create(new InetSocketAddress(host, port), 64);
      https.setHttpsConfigurator(new HttpsConfigurator(tls));
      server = https;
    } else {
      server = HttpServer.create(new InetSocketAddress(host, port), 64);
    }
    ExecutorService executor = Executors.newThreadPerTaskExecutor(
        Thread.ofVirtual().name(name + "-http-", 0).factory());
    server.setExecutor(executor);
    server.createContext("/", http -> serve(http, router, errors, requestIdHeaders));
    server.start();
    LOG.info("{} REST API listening; address={}:{} tls={}", name, host,
        server.getAddress().getPort(), tls != null);
    return new RestServer(server, executor, name);
  }

  private static void serve(HttpExchange http, Router router, ErrorMapper errors,
      List<String> requestIdHeaders) {
    String requestId = RequestIds.newId();
    for (String h : requestIdHeaders) {
      http.getResponseHeaders().set(h, requestId);
    }
    try (http) {
      String path = http.getRequestURI().getPath();
      var match = router.match(http.getRequestMethod(), path);
      RestExchange x = new RestExchange(http, match.map(Router.Match::params)
          .orElse(java.util.Map.of()), requestId);
      RequestIds.withId(requestId, () -> run(x, match.orElse(null), errors));
    } catch (RuntimeException e) {
      LOG.warn("malformed request; path={}", http.getRequestURI(), e);
      try {
        http.sendResponseHeaders(400, -1);
      } catch (IOException ignored) {
        // the client is gone
      }
    }
  }

  /**
   * Reads what is left of a request body the handler did not read (an upload refused
   * before its data), up to {@link #DRAIN_LIMIT}, before the error is answered: a client
   * still sending then gets the answer instead of a reset connection (the JDK's server
   * reads at most 64 KiB of it and then drops the connection). A bigger rest is cut off.
   */
  private static void drain(RestExchange x) {
    try {
      var in = x.body();
      byte[] buf = new byte[64 << 10];
      long left = DRAIN_LIMIT;
      for (int n; left > 0 && (n = in.read(buf)) >= 0;) {
        left -= n;
      }
    } catch (IOException e) {
      // the client is gone, or the handler closed the body: nothing to drain
    }
  }

  /** The most of an unread request body {@link #drain} reads. */
  static final long DRAIN_LIMIT = 64L << 20;

  private static void run(RestExchange x, Router.Match match, ErrorMapper errors) {
    try {
      if (match == null) {
        throw new RestError(404, "The resource could not be found.");
      }
      if (match.handler() == null) {
        x.responseHeader("Allow", String.join(", ", match.allowed()));
        throw new RestError(405, "The method " + x.method() + " is not allowed for this"
            + " resource.");
      }
      match.handler().handle(x);
      if (!x.answered()) {
        x.empty(204);
      }
    } catch (Throwable e) {
      if (!(e instanceof RestError) && !(e instanceof io.stratus.support.errors.ApiException)) {
        LOG.error("REST request failed; method={} path={}", x.method(), x.path(), e);
      }
      if (x.answered()) {
        return;  // a streamed answer cut short: the connection closes
      }
      drain(x);
      try {
        errors.answer(x, e);
      } catch (IOException | RuntimeException io) {
        LOG.debug("could not answer an error", io);
      }
    }
  }

  /** The port it listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(1);
    executor.shutdownNow();
    LOG.info("{} REST API stopped", name);
  }
}
