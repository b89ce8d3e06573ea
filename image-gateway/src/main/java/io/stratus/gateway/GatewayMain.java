package io.stratus.gateway;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.stratus.support.config.ConfigException;
import java.net.InetSocketAddress;
import java.nio.file.Path;

/** Runs the image-gateway: {@code java -jar stratus-image-gateway.jar [--config FILE]}. */
public final class GatewayMain {
  private GatewayMain() {}

  public static void main(String[] args) throws Exception {
    Path file = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        file = Path.of(args[++i]);
      } else {
        System.err.println("usage: stratus-image-gateway [--config FILE]");
        System.exit(2);
      }
    }
    GatewayConfig config;
    try {
      config = GatewayConfig.load(file, System.getenv());
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    ImageGateway gateway = ImageGateway.start(config,
        NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.port())),
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
