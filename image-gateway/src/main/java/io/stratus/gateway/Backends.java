package io.stratus.gateway;

import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.gateway.store.glance.GlanceBackend;
import io.stratus.gateway.store.rbd.RbdBackend;
import io.stratus.support.config.ConfigException;
import java.io.IOException;
import java.time.Clock;
import java.util.List;

/** Makes the store a configuration names. */
final class Backends {
  private Backends() {}

  static ImageBackend open(GatewayConfig config) throws IOException {
    return switch (config.backend()) {
      case "filesystem" -> new FilesystemBackend(config.fsDir(), Clock.systemUTC());
      case "glance" -> new GlanceBackend(java.net.URI.create(config.glanceUrl()),
          config.glanceToken(), Clock.systemUTC());
      case "rbd" -> new RbdBackend(config.cephConf(), config.cephPool(), Clock.systemUTC());
      default -> throw new ConfigException("image-gateway",
          List.of("backend " + config.backend() + " is not available in this build"));
    };
  }
}
