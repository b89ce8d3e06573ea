package io.stratus.support.grpc;

import io.grpc.Server;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Stops a gRPC server: no new calls, running calls get {@code grace} to finish, then cut. */
public final class GracefulShutdown {
  private GracefulShutdown() {}

  public static void stop(Server server, Duration grace) throws InterruptedException {
    server.shutdown();
    if (!server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
      server.shutdownNow();
      server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS);
    }
  }
}
