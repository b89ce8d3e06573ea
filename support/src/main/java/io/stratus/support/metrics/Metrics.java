package io.stratus.support.metrics;

import com.sun.net.httpserver.HttpServer;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.stratus.support.config.OptionalEndpoint;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A service's metrics for Prometheus: one registry tagged with the service's name, the
 * JVM's own meters, the gRPC calls it serves ({@link #serverInterceptor()}), the meters
 * the service's code records into Micrometer's global registry (this registry joins it
 * while open: code records with {@code io.micrometer.core.instrument.Metrics} and needs no
 * handle, and records nowhere when no service registry is open), and an HTTP
 * endpoint, {@code GET /metrics} in Prometheus' text format, on {@code metrics.port} (0:
 * no endpoint, the default) of {@code metrics.listen.host}. The endpoint serves nothing
 * else and takes no credentials: it shows counts and timings, never ids or names.
 */
public final class Metrics implements AutoCloseable {
  private final PrometheusMeterRegistry registry;
  private final HttpServer server;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  private Metrics(PrometheusMeterRegistry registry, HttpServer server) {
    this.registry = registry;
    this.server = server;
  }

  /**
   * The metrics of {@code service} (e.g. {@code conductor}), served on {@code config}'s
   * address when it is enabled.
   */
  public static Metrics start(String service, OptionalEndpoint config) throws IOException {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().commonTags("service", service);
    HttpServer server = null;
    if (config.enabled()) {
      server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 16);
      server.createContext("/", exchange -> {
        try (exchange) {
          if (!exchange.getRequestMethod().equals("GET")
              || !exchange.getRequestURI().getPath().equals("/metrics")) {
            exchange.sendResponseHeaders(404, -1);
            return;
          }
          byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().set("Content-Type",
              "text/plain; version=0.0.4; charset=utf-8");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        }
      });
      server.setExecutor(null);
      server.start();
    }
    Metrics metrics = new Metrics(registry, server);
    io.micrometer.core.instrument.Metrics.addRegistry(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    metrics.gc.bindTo(registry);
    return metrics;
  }

  /** The registry the service's own meters go to. */
  public MeterRegistry registry() {
    return registry;
  }

  /** Counts and times every call the service answers, by method and status code. */
  public ServerInterceptor serverInterceptor() {
    return new GrpcServerMetrics(registry);
  }

  /** The endpoint's port, or 0 without one. */
  public int port() {
    return server == null ? 0 : server.getAddress().getPort();
  }

  /** The current scrape, as the endpoint serves it. */
  public String scrape() {
    return registry.scrape();
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop(0);
    }
    gc.close();
    io.micrometer.core.instrument.Metrics.removeRegistry(registry);
    registry.close();
  }
}
