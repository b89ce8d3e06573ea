package io.stratus.gateway.upload;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Metrics;

/**
 * The image bytes the gateway moves, recorded into Micrometer's global registry (the
 * service's Prometheus registry joins it: {@code support/metrics}): {@code
 * stratus_gateway_data_bytes_total{direction="upload"|"download"}}; zero extents carry no
 * bytes and do not count.
 */
public final class DataMeters {
  /** Bytes of data extents received into images. */
  public static final Counter UPLOADED = counter("upload");
  /** Bytes of data extents sent out of images. */
  public static final Counter DOWNLOADED = counter("download");

  private DataMeters() {}

  /** Registers the counters now (at zero), so a scrape shows them before the first byte. */
  public static void register() {
    // loading the class registers them
  }

  private static Counter counter(String direction) {
    return Counter.builder("stratus.gateway.data").baseUnit("bytes").tag("direction", direction)
        .description("image data bytes moved").register(Metrics.globalRegistry);
  }
}
