package io.stratus.gateway;

import io.stratus.support.imageio.StreamWindow;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.support.launch.Launch;
import java.net.InetSocketAddress;

/** Runs the image-gateway: {@code java -jar stratus-image-gateway.jar [--config FILE]}. */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) throws Exception {
    GatewayConfig config = Launch.config("stratus-image-gateway", args, file -> GatewayConfig.load(file, System.getenv()));
    ImageGateway gateway = ImageGateway.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port()))
            .flowControlWindow(StreamWindow.BYTES),
        Backends.open(config));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        gateway.close();
      } catch (Exception e) {
        Thread.currentThread().interrupt();
      }
    }, "gateway-shutdown"));
    System.out.println("image-gateway listening on " + config.listenHost() + ":" + gateway.port());
    gateway.awaitTermination();
  }
}
