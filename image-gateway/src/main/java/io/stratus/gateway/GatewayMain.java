package io.stratus.gateway;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.support.grpc.HealthEndpoint;
import io.stratus.support.imageio.StreamWindow;
import io.stratus.support.launch.Launch;
import io.stratus.support.metrics.Metrics;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.net.InetSocketAddress;

/**
 * Runs the image-gateway: {@code java -jar stratus-image-gateway.jar [--config FILE]}. It
 * serves over mutual TLS: every caller presents a certificate signed by the Stratus CA.
 */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) throws Exception {
    GatewayConfig config = Launch.config("stratus-image-gateway", args, file -> GatewayConfig.load(file, System.getenv()));
    TransportSecurity tls = TransportSecurity.open(config.tls(), "image-gateway");
    tls.requireOwnIdentity(Role.GATEWAY, null);
    Metrics metrics = Metrics.start("image-gateway", config.metrics());
    ImageGateway gateway = ImageGateway.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port()),
                tls.server(true))
            .flowControlWindow(StreamWindow.BYTES).intercept(metrics.serverInterceptor()),
        tls, Backends.open(config));
    HealthEndpoint probes = config.health().enabled()
        ? HealthEndpoint.start(NettyServerBuilder.forAddress(
            new InetSocketAddress(config.health().host(), config.health().port())),
            gateway.healthService())
        : null;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        if (probes != null) {
          probes.close();
        }
        gateway.close();
      } catch (Exception e) {
        Thread.currentThread().interrupt();
      }
      tls.close();
      metrics.close();
    }, "gateway-shutdown"));
    System.out.println("image-gateway listening on " + config.listenHost() + ":" + gateway.port()
);
    if (probes != null) {
      System.out.println("health (plaintext) on " + config.health().host() + ":" + probes.port());
    }
    if (config.metrics().enabled()) {
      System.out.println("metrics on http://" + config.metrics().host() + ":" + metrics.port()
          + "/metrics");
    }
    gateway.awaitTermination();
  }
}
