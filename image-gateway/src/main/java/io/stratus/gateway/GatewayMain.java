package io.stratus.gateway;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.support.imageio.StreamWindow;
import io.stratus.support.launch.Launch;
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
    ImageGateway gateway = ImageGateway.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port()),
                tls.server(true))
            .flowControlWindow(StreamWindow.BYTES),
        tls, Backends.open(config));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        gateway.close();
      } catch (Exception e) {
        Thread.currentThread().interrupt();
      }
      tls.close();
    }, "gateway-shutdown"));
    System.out.println("image-gateway listening on " + config.listenHost() + ":" + gateway.port());
    gateway.awaitTermination();
  }
}
