package io.stratus.cli.fake;

import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.cli.StratusCli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The fake conductor ({@code Servers}, {@code Hosts}) and image-gateway ({@code Images})
 * on two in-process servers with unique names, and a way to run the CLI against them.
 */
public final class FakeCloud implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  public final FakeServers servers = new FakeServers();
  public final FakeHosts hosts = new FakeHosts();
  public final FakeImages images = new FakeImages();
  /** The authorization header of every conductor call. */
  public final List<String> authorizations = new CopyOnWriteArrayList<>();

  private final Server conductorServer;
  private final Server gatewayServer;
  private final ManagedChannel conductor;
  private final ManagedChannel gateway;

  /** What one CLI run returned and printed. */
  public record Result(int code, String out, String err) {}

  public FakeCloud() throws IOException {
    String conductorName = InProcessServerBuilder.generateName();
    String gatewayName = InProcessServerBuilder.generateName();
    ServerInterceptor recordAuth = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        authorizations.add(String.valueOf(headers.get(AUTHORIZATION)));
        return next.startCall(call, headers);
      }
    };
    conductorServer = InProcessServerBuilder.forName(conductorName).directExecutor()
        .addService(ServerInterceptors.intercept(servers, recordAuth))
        .addService(ServerInterceptors.intercept(hosts, recordAuth))
        .build().start();
    gatewayServer = InProcessServerBuilder.forName(gatewayName).directExecutor()
        .addService(images).build().start();
    conductor = InProcessChannelBuilder.forName(conductorName).directExecutor().build();
    gateway = InProcessChannelBuilder.forName(gatewayName).directExecutor().build();
  }

  /** Runs {@code stratus --token t0k3n ARGS…} in-process. */
  public Result run(String... args) {
    String[] withToken = new String[args.length + 2];
    withToken[0] = "--token";
    withToken[1] = "t0k3n";
    System.arraycopy(args, 0, withToken, 2, args.length);
    return runExactly(withToken);
  }

  /** Runs {@code stratus ARGS…} in-process, with no token added. */
  public Result runExactly(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = StratusCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), conductor, gateway);
    return new Result(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    conductor.shutdownNow();
    gateway.shutdownNow();
    try {
      conductorServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      gatewayServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
