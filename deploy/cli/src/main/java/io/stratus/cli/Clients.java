package io.stratus.cli;

import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.stratus.proto.conductor.v1.HostsGrpc;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.conductor.v1.TokensGrpc;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.imageio.StreamWindow;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.util.concurrent.TimeUnit;

/**
 * gRPC stubs for the conductor ({@code Servers}, {@code Hosts}) and the image-gateway
 * ({@code Images}). Channels are opened on first use, so a command that needs only one
 * service needs only that address. Conductor calls carry {@code authorization: Bearer
 * <token>}. Unary calls get a deadline; streams (watch, download) run until they end.
 * Channels use TLS ({@link ClientTls}): the conductor's and the gateway's certificates are
 * checked against the CA and the address dialled; the gateway also gets the user's
 * client certificate.
 */
public final class Clients implements AutoCloseable {
  private static final long DEADLINE_SECONDS = 60;
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String conductorAddress;
  private final String gatewayAddress;
  private final String token;
  private final ClientTls tls;
  private TransportSecurity security;
  private ManagedChannel conductor;
  private ManagedChannel gateway;
  private final boolean ownsConductor;
  private final boolean ownsGateway;

  /**
   * @param conductor an open channel to use, or null to open one to {@code conductorAddress}
   * @param gateway an open channel to use, or null to open one to {@code gatewayAddress}
   */
  public Clients(String conductorAddress, String gatewayAddress, String token, ClientTls tls,
      ManagedChannel conductor, ManagedChannel gateway) {
    this.tls = tls;
    this.conductorAddress = conductorAddress;
    this.gatewayAddress = gatewayAddress;
    this.token = token;
    this.conductor = conductor;
    this.gateway = gateway;
    this.ownsConductor = conductor == null;
    this.ownsGateway = gateway == null;
  }

  /** Servers, with a deadline: for unary calls. */
  public ServersGrpc.ServersBlockingStub servers() {
    return serverStream().withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  /** Servers without a deadline: for {@code WatchServer}. */
  public ServersGrpc.ServersBlockingStub serverStream() {
    return ServersGrpc.newBlockingStub(conductor()).withInterceptors(bearer());
  }

  public HostsGrpc.HostsBlockingStub hosts() {
    return HostsGrpc.newBlockingStub(conductor()).withInterceptors(bearer())
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  /** Tokens (admin), with a deadline. */
  public TokensGrpc.TokensBlockingStub tokens() {
    return TokensGrpc.newBlockingStub(conductor()).withInterceptors(bearer())
        .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  /** Images, with a deadline: for unary calls. */
  public ImagesGrpc.ImagesBlockingStub images() {
    return imageStream().withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
  }

  /** Images without a deadline: for {@code DownloadImage}. */
  public ImagesGrpc.ImagesBlockingStub imageStream() {
    return ImagesGrpc.newBlockingStub(gateway()).withInterceptors(bearer());
  }

  /** The gateway's channel: for the client-streaming {@code UploadImage}. */
  public io.grpc.Channel imageUploads() {
    return io.grpc.ClientInterceptors.intercept(gateway(), bearer());
  }

  private ClientInterceptor bearer() {
    if (token == null || token.isBlank()) {
      throw CliException.usage("no API token: pass --token TOKEN or set API_TOKEN");
    }
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token.trim());
    return MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  private synchronized ManagedChannel conductor() {
    if (conductor == null) {
      String address = require(conductorAddress, "--conductor", "CONDUCTOR_ADDR");
      conductor = NettyChannelBuilder.forTarget(address, security(false).channel(Role.CONDUCTOR))
          .build();
    }
    return conductor;
  }

  private synchronized ManagedChannel gateway() {
    if (gateway == null) {
      String address = require(gatewayAddress, "--gateway", "GATEWAY_ADDR");
      gateway = NettyChannelBuilder.forTarget(address, security(true).channel(Role.GATEWAY))
          .flowControlWindow(StreamWindow.BYTES).maxInboundMessageSize(8 << 20).build();
    }
    return gateway;
  }

  /** The TLS material, loaded once; the gateway needs the client certificate. */
  private TransportSecurity security(boolean forGateway) {
    if (forGateway) {
      tls.requireCertificate();
    }
    if (security == null) {
      security = tls.open();
    }
    return security;
  }

  private static String require(String address, String option, String env) {
    if (address == null || address.isBlank()) {
      throw CliException.usage(
          "no address for " + option + ": pass " + option + " HOST:PORT or set " + env);
    }
    return address.trim();
  }

  /** Shuts down the channels this object opened (not those it was given). */
  @Override
  public synchronized void close() {
    if (ownsConductor && conductor != null) {
      conductor.shutdownNow();
    }
    if (ownsGateway && gateway != null) {
      gateway.shutdownNow();
    }
    if (security != null) {
      security.close();
    }
  }
}
