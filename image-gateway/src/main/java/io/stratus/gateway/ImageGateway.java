package io.stratus.gateway;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.stratus.gateway.api.AliasingUploads;
import io.stratus.gateway.api.ImagesService;
import io.stratus.gateway.checksum.ChecksumFiller;
import io.stratus.gateway.domain.QueuedImageReaper;
import io.stratus.gateway.identity.CallerInterceptor;
import io.stratus.gateway.identity.TokenValidator;
import io.stratus.gateway.openstack.GlanceApi;
import io.stratus.support.rest.RestServer;
import io.stratus.support.rest.Router;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.grpc.GracefulShutdown;
import io.stratus.support.grpc.ReplicaTargets;
import io.stratus.support.tls.PeerGuard;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TransportSecurity;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The image-gateway process: the {@code image.v1} service over one store, plus health and
 * reflection, on a caller-supplied {@link ServerBuilder} (tests pass an in-process one).
 */
public final class ImageGateway implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ImageGateway.class);
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(10);

  private final Server server;
  private final ImageBackend backend;
  private final HealthStatusManager health;
  private final ChecksumFiller checksums;

  private final QueuedImageReaper reaper;
  /** To the conductor, which resolves users' tokens; null without TLS. */
  private final ManagedChannel identity;
  /** The Glance REST API; null when off. */
  private final RestServer glance;

  private ImageGateway(Server server, ImageBackend backend, HealthStatusManager health,
      ChecksumFiller checksums, QueuedImageReaper reaper, ManagedChannel identity,
      RestServer glance) {
    this.glance = glance;
    this.reaper = reaper;
    this.identity = identity;
    this.server = server;
    this.backend = backend;
    this.health = health;
    this.checksums = checksums;
  }

  /**
   * Serves {@code backend}; the gateway owns it from now on and closes it. Over TLS
   * ({@code security}) every caller holds a CA-signed certificate; the internal calls
   * ({@code ActivateEmptyImage}, {@code ImportRbdClone}, {@code GetStoreInfo}) take only
   * conductor and agent certificates.
   */
  public static ImageGateway start(GatewayConfig config, ServerBuilder<?> builder,
      TransportSecurity security, ImageBackend backend) throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    io.stratus.gateway.upload.DataMeters.register();
    ChecksumFiller checksums = config.backgroundChecksums() ? new ChecksumFiller(backend) : null;
    ManagedChannel identity = security.secure() && config.identityAddress() != null
        ? NettyChannelBuilder.forTarget(ReplicaTargets.target(config.identityAddress()),
            security.channel(Role.CONDUCTOR))
        .defaultLoadBalancingPolicy(ReplicaTargets.policy(config.identityAddress())).build()
        : null;
    TokenValidator tokens = identity == null ? null
        : new TokenValidator(identity, Duration.ofSeconds(30), Clock.systemUTC());
    ImagesService images = new ImagesService(backend, config.uploadLimits(), checksums);
    RestServer glance = null;
    if (config.glanceApi().enabled()) {
      Router routes = new Router();
      new GlanceApi(images.access(), backend, tokens, images::newUploadSession,
          images::afterActivation).routes(routes);
      try {
        glance = RestServer.start("glance", config.glanceApi().host(), config.glanceApi().port(),
            security.httpsServerContext(), routes, GlanceApi::error,
            java.util.List.of("x-openstack-request-id"));
      } catch (java.security.GeneralSecurityException e) {
        throw new IOException("no TLS for the Glance API: " + e.getMessage(), e);
      }
    }
    Server server = builder
        .intercept(io.stratus.support.grpc.RequestIds.serverPropagating())
        // a data extent of maxExtentBytes plus its framing must fit in one message
        .maxInboundMessageSize(config.maxExtentBytes() + (64 << 10))
        .addService(ServerInterceptors.intercept(AliasingUploads.of(images.bindService()),
            new CallerInterceptor(tokens), callers(security)))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance())
        .addService(ProtoReflectionService.newInstance())
        .build()
        .start();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(ImagesGrpc.SERVICE_NAME, ServingStatus.SERVING);
    if (checksums != null) {
      checksums.recoverPending();
    }
    LOG.info("image-gateway serving; port={} backend={} backgroundChecksums={}", server.getPort(),
        backend.info().backend(), checksums != null);
    QueuedImageReaper reaper = new QueuedImageReaper(backend, config.queuedExpire(),
        Clock.systemUTC()).start();
    return new ImageGateway(server, backend, health, checksums, reaper, identity, glance);
  }

  /** Who may call which image RPC: internal calls are for the conductor and agents. */
  private static PeerGuard callers(TransportSecurity security) {
    Set<Role> internal = EnumSet.of(Role.CONDUCTOR, Role.AGENT);
    return PeerGuard.allow(security, EnumSet.of(Role.CONDUCTOR, Role.AGENT, Role.CLIENT),
        Map.of("ActivateEmptyImage", internal, "ImportRbdClone", internal,
            "GetStoreInfo", internal));
  }

  public int port() {
    return server.getPort();
  }

  /** The Glance REST API's port; 0 when it is off. */
  public int glancePort() {
    return glance == null ? 0 : glance.port();
  }

  /** The health service (for {@link io.stratus.support.grpc.HealthEndpoint}). */
  public io.grpc.BindableService healthService() {
    return health.getHealthService();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() throws InterruptedException, IOException {
    health.enterTerminalState();
    if (glance != null) {
      glance.close();
    }
    GracefulShutdown.stop(server, SHUTDOWN_GRACE);
    reaper.close();
    if (identity != null) {
      identity.shutdownNow();
    }
    if (checksums != null) {
      checksums.close();
    }
    backend.close();
    LOG.info("image-gateway stopped");
  }
}
