package io.stratus.support.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.stratus.support.config.ConfigException;
import io.stratus.testkit.DevCa;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real mutual TLS over loopback with certificates from {@code deploy/scripts/dev-ca.sh}: who
 * gets in, who is refused and how, and certificate renewal without a restart.
 */
class TransportSecurityTest {
  @TempDir Path dir;
  DevCa ca;
  final List<AutoCloseable> closers = new ArrayList<>();

  @BeforeEach
  void ca() {
    ca = DevCa.create(dir.resolve("pki"));
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closers.size() - 1; i >= 0; i--) {
      closers.get(i).close();
    }
  }

  @Test
  void aServerTakesOnlyTheRolesItAllowsAndSaysWhyItRefusesTheOthers() throws Exception {
    int port = serve(ca.issue("agent", "host-a", "127.0.0.1"), true, Role.CONDUCTOR);

    assertEquals(ServingStatus.SERVING, check(port, ca.issue("conductor", "conductor"),
        Role.AGENT, "host-a"));

    StatusRuntimeException client = assertThrows(StatusRuntimeException.class,
        () -> check(port, ca.issue("client", "alice"), Role.AGENT, "host-a"));
    assertEquals(Status.Code.PERMISSION_DENIED, client.getStatus().getCode());
    assertTrue(client.getStatus().getDescription().contains("a client certificate (alice) may not"
        + " call grpc.health.v1.Health/Check"), client.getStatus().getDescription());

    StatusRuntimeException otherAgent = assertThrows(StatusRuntimeException.class,
        () -> check(port, ca.issue("agent", "host-b"), Role.AGENT, "host-a"));
    assertEquals(Status.Code.PERMISSION_DENIED, otherAgent.getStatus().getCode());
  }

  @Test
  void aCallerWithoutACertificateIsRefusedWhereOneIsRequired() throws Exception {
    int required = serve(ca.issue("gateway", "gw", "127.0.0.1"), true, Role.CLIENT);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> check(required, null, Role.GATEWAY, null));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), "the handshake must fail");

    int optional = serve(ca.issue("conductor", "conductor", "127.0.0.1"), false, Role.AGENT);
    StatusRuntimeException guarded = assertThrows(StatusRuntimeException.class,
        () -> check(optional, null, Role.CONDUCTOR, null));
    assertEquals(Status.Code.UNAUTHENTICATED, guarded.getStatus().getCode());
    assertTrue(guarded.getStatus().getDescription().contains("needs a client certificate"),
        guarded.getStatus().getDescription());
  }

  @Test
  void aChannelRefusesAServerOfAnotherRoleOrForAnotherName() throws Exception {
    int agentA = serve(ca.issue("agent", "host-a", "127.0.0.1"), true, Role.CONDUCTOR);
    DevCa.Issued conductor = ca.issue("conductor", "conductor");

    // the conductor dials host-b's registered address, but host-a's agent answers there
    StatusRuntimeException wrongHost = assertThrows(StatusRuntimeException.class,
        () -> check(agentA, conductor, Role.AGENT, "host-b"));
    assertEquals(Status.Code.UNAVAILABLE, wrongHost.getStatus().getCode());

    // an agent where the gateway was expected
    StatusRuntimeException wrongRole = assertThrows(StatusRuntimeException.class,
        () -> check(agentA, conductor, Role.GATEWAY, null));
    assertEquals(Status.Code.UNAVAILABLE, wrongRole.getStatus().getCode());

    // a certificate from another CA
    DevCa other = DevCa.create(dir.resolve("other-pki"));
    int stranger = serve(other, other.issue("agent", "host-a", "127.0.0.1"), true,
        Role.CONDUCTOR);
    StatusRuntimeException untrusted = assertThrows(StatusRuntimeException.class,
        () -> check(stranger, conductor, Role.AGENT, "host-a"));
    assertEquals(Status.Code.UNAVAILABLE, untrusted.getStatus().getCode());
  }

  @Test
  void aRenewedCertificateIsServedWithoutARestart() throws Exception {
    DevCa.Issued server = ca.issue("agent", "host-a", "127.0.0.1");
    int port = serve(server, true, Role.CONDUCTOR);
    DevCa.Issued conductor = ca.issue("conductor", "conductor");
    assertThrows(StatusRuntimeException.class,
        () -> check(port, conductor, Role.AGENT, "host-a.example"));

    ca.issue("agent", "host-a", "127.0.0.1", "host-a.example"); // same files, new SAN
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    ServingStatus status = null;
    StatusRuntimeException last = null;
    while (status == null && System.nanoTime() < deadline) {
      try {
        status = check(port, conductor, Role.AGENT, "host-a.example");
      } catch (StatusRuntimeException notYet) {
        last = notYet;
        Thread.sleep(100);
      }
    }
    assertEquals(ServingStatus.SERVING, status, "the renewed certificate was never served: "
        + (last == null ? "" : last.getStatus() + " " + last.getCause()));
  }

  @Test
  void aServiceRefusesToStartWithACertificateItsPeersWouldRefuse() throws Exception {
    DevCa.Issued agentB = ca.issue("agent", "host-b");
    TransportSecurity tls = open(ca, agentB);
    ConfigException wrongHost = assertThrows(ConfigException.class,
        () -> tls.requireOwnIdentity(Role.AGENT, "host-a"));
    assertTrue(wrongHost.getMessage().contains("names hosts [host-b], not this agent's host "
        + "'host-a'"), wrongHost.getMessage());
    ConfigException wrongRole = assertThrows(ConfigException.class,
        () -> tls.requireOwnIdentity(Role.GATEWAY, null));
    assertTrue(wrongRole.getMessage().contains("is a AGENT certificate"), wrongRole.getMessage());
    tls.requireOwnIdentity(Role.AGENT, "host-b");
  }

  private int serve(DevCa.Issued cert, boolean requireClientCertificate, Role allowed)
      throws Exception {
    return serve(ca, cert, requireClientCertificate, allowed);
  }

  private int serve(DevCa authority, DevCa.Issued cert, boolean requireClientCertificate,
      Role allowed) throws Exception {
    TransportSecurity tls = open(authority, cert);
    HealthStatusManager health = new HealthStatusManager();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
            tls.server(requireClientCertificate))
        .addService(ServerInterceptors.intercept(health.getHealthService(),
            PeerGuard.allow(tls, allowed)))
        .build().start();
    closers.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    return server.getPort();
  }

  private TransportSecurity open(DevCa authority, DevCa.Issued cert) throws Exception {
    TransportSecurity tls = TransportSecurity.open(cert == null
        ? new TlsSettings(authority.caCert(), null, null, false, Duration.ofMillis(200))
        : TlsSettings.of(authority.caCert(), cert.cert(), cert.key(), Duration.ofMillis(200)),
        "test");
    closers.add(tls);
    return tls;
  }

  /** A health check from a caller holding {@code cert} (or none) expecting {@code role}. */
  private ServingStatus check(int port, DevCa.Issued cert, Role role, String authority)
      throws Exception {
    TransportSecurity tls = open(ca, cert);
    NettyChannelBuilder b = NettyChannelBuilder.forTarget("127.0.0.1:" + port, tls.channel(role));
    if (authority != null) {
      b.overrideAuthority(authority);
    }
    ManagedChannel channel = b.build();
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
