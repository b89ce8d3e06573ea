package io.stratus.support.config;

/**
 * An extra port a service may open (its health probes, its metrics): {@code NAME.port}
 * (0, the default: not opened) on {@code NAME.listen.host} (by default the service's own
 * listen host).
 */
public record OptionalEndpoint(String host, int port) {

  /** Reads {@code name.port} and {@code name.listen.host}. */
  public static OptionalEndpoint read(Settings s, String name, String listenHost) {
    return new OptionalEndpoint(s.string(name + ".listen.host", listenHost),
        s.integer(name + ".port", 0, 0, 65535));
  }

  /** Whether the port is to be opened. */
  public boolean enabled() {
    return port > 0;
  }
}
