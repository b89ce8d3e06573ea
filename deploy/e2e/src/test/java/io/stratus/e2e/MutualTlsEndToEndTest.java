package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.GetAgentInfoRequest;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ServersGrpc;
import io.stratus.proto.image.v1.ActivateEmptyImageRequest;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.DevCa;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The identity rules of the running system (gateway, conductor and agent as their own
 * processes, mutual TLS with the run's development CA), tried as an intruder on the same
 * network would: without a certificate, with a certificate of the wrong role, and with an
 * agent certificate for another host.
 */
class MutualTlsEndToEndTest {
  static StratusSystem system;
  static final List<AutoCloseable> closers = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    system = new StratusSystem();
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : closers) {
      c.close();
    }
    if (system != null) {
      system.close();
    }
  }

  @Test
  void withoutAClientCertificateTheGatewayAndTheAgentRefuseTheHandshake() throws Exception {
    ManagedChannel gateway = channel(null, system.gateway.address(), Role.GATEWAY, null);
    StatusRuntimeException g = assertThrows(StatusRuntimeException.class,
        () -> ImagesGrpc.newBlockingStub(gateway).withDeadlineAfter(10, TimeUnit.SECONDS)
            .listImages(ListImagesRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, g.getStatus().getCode());

    ManagedChannel agent = channel(null, system.agent.address(), Role.AGENT, StratusSystem.HOST);
    StatusRuntimeException a = assertThrows(StatusRuntimeException.class,
        () -> ComputeAgentGrpc.newBlockingStub(agent).withDeadlineAfter(10, TimeUnit.SECONDS)
            .getAgentInfo(GetAgentInfoRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, a.getStatus().getCode());

    // plaintext reaches nothing
    ManagedChannel plain = NettyChannelBuilder.forTarget(system.conductor.address())
        .usePlaintext().build();
    closers.add(plain::shutdownNow);
    var plainServers = ServersGrpc.newBlockingStub(plain)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
            StratusSystem.bearer(StratusSystem.MEMBER)))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    StatusRuntimeException p = assertThrows(StatusRuntimeException.class,
        () -> plainServers.listServers(ListServersRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, p.getStatus().getCode());
  }

  @Test
  void thePublicApiTakesATokenWithoutAClientCertificate() throws Exception {
    ManagedChannel conductor = channel(null, system.conductor.address(), Role.CONDUCTOR, null);
    var servers = ServersGrpc.newBlockingStub(conductor).withDeadlineAfter(10, TimeUnit.SECONDS);
    StatusRuntimeException noToken = assertThrows(StatusRuntimeException.class,
        () -> servers.listServers(ListServersRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, noToken.getStatus().getCode());
    servers.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
            StratusSystem.bearer(StratusSystem.MEMBER)))
        .listServers(ListServersRequest.getDefaultInstance());
  }

  @Test
  void anAgentCertificateOfHostACannotRegisterOrBeatAsHostB() throws Exception {
    DevCa.Issued intruder = system.pki.issue("agent", "intruder-host", "127.0.0.1");
    ManagedChannel conductor = channel(intruder, system.conductor.address(), Role.CONDUCTOR,
        null);
    var registry = AgentRegistryGrpc.newBlockingStub(conductor)
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    StatusRuntimeException register = assertThrows(StatusRuntimeException.class,
        () -> registry.register(RegisterRequest.newBuilder().setHost(StratusSystem.HOST)
            .setAddress("127.0.0.1:1").setAgentVersion("evil").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, register.getStatus().getCode());
    assertTrue(register.getStatus().getDescription().contains(
        "names [intruder-host], not host '" + StratusSystem.HOST + "'"),
        register.getStatus().getDescription());

    CompletableFuture<Status> beat = new CompletableFuture<>();
    StreamObserver<HeartbeatRequest> beats = AgentRegistryGrpc.newStub(conductor)
        .withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(new StreamObserver<>() {
          @Override
          public void onNext(HeartbeatResponse r) {
            beat.complete(Status.OK);
          }

          @Override
          public void onError(Throwable t) {
            beat.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            beat.complete(Status.OK);
          }
        });
    beats.onNext(HeartbeatRequest.newBuilder().setHost(StratusSystem.HOST).build());
    assertEquals(Status.Code.PERMISSION_DENIED, beat.get(15, TimeUnit.SECONDS).getCode());
    beats.onCompleted();

    // the real host is untouched: same address, still up
    var host = system.hosts(StratusSystem.ADMIN).listHosts(ListHostsRequest.getDefaultInstance())
        .getHostsList().stream().filter(h -> h.getName().equals(StratusSystem.HOST)).findFirst()
        .orElseThrow();
    assertEquals(system.agent.address(), host.getAddress());
    assertEquals(HostStatus.HOST_STATUS_UP, host.getStatus());

    // and a client certificate is no agent at all
    ManagedChannel asClient = channel(system.client, system.conductor.address(),
        Role.CONDUCTOR, null);
    StatusRuntimeException client = assertThrows(StatusRuntimeException.class,
        () -> AgentRegistryGrpc.newBlockingStub(asClient).withDeadlineAfter(10, TimeUnit.SECONDS)
            .register(RegisterRequest.newBuilder().setHost("new-host").setAddress("127.0.0.1:1")
                .build()));
    assertEquals(Status.Code.PERMISSION_DENIED, client.getStatus().getCode());
  }

  @Test
  void theAgentTakesCallsFromConductorCertificatesOnly() throws Exception {
    Function<DevCa.Issued, Status.Code> call = cert -> {
      try {
        ManagedChannel ch = channel(cert, system.agent.address(), Role.AGENT, StratusSystem.HOST);
        ComputeAgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .getAgentInfo(GetAgentInfoRequest.getDefaultInstance());
        return Status.Code.OK;
      } catch (StatusRuntimeException e) {
        return e.getStatus().getCode();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    assertEquals(Status.Code.PERMISSION_DENIED, call.apply(system.client));
    assertEquals(Status.Code.PERMISSION_DENIED,
        call.apply(system.pki.issue("agent", "other-host", "127.0.0.1")));
    assertEquals(Status.Code.PERMISSION_DENIED,
        call.apply(system.pki.issue("gateway", "gateway-2")));
    assertEquals(Status.Code.OK, call.apply(system.pki.issue("conductor", "conductor-2")));

    // following an operation by its id is the conductor's too: a client cannot watch one
    ManagedChannel asClient = channel(system.client, system.agent.address(), Role.AGENT,
        StratusSystem.HOST);
    var updates = ComputeAgentGrpc.newBlockingStub(asClient).withDeadlineAfter(10, TimeUnit.SECONDS)
        .attachOperation(io.stratus.proto.agent.v1.AttachOperationRequest.newBuilder()
            .setOperationId("req-someone-elses").build());
    StatusRuntimeException attach = assertThrows(StatusRuntimeException.class, updates::hasNext);
    assertEquals(Status.Code.PERMISSION_DENIED, attach.getStatus().getCode());
  }

  @Test
  void theGatewaysInternalCallsRefuseAClientCertificate() throws Exception {
    ManagedChannel ch = channel(system.client, system.gateway.address(), Role.GATEWAY, null);
    var images = ImagesGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
    StatusRuntimeException activate = assertThrows(StatusRuntimeException.class,
        () -> images.activateEmptyImage(ActivateEmptyImageRequest.newBuilder()
            .setImageId(UUID.randomUUID().toString()).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, activate.getStatus().getCode());
    assertTrue(activate.getStatus().getDescription().contains(
        "a client certificate (e2e-user) may not call stratus.image.v1.Images/ActivateEmptyImage"),
        activate.getStatus().getDescription());
    StatusRuntimeException store = assertThrows(StatusRuntimeException.class,
        () -> images.getStoreInfo(GetStoreInfoRequest.getDefaultInstance()));
    assertEquals(Status.Code.PERMISSION_DENIED, store.getStatus().getCode());
    // the user calls take a client certificate and a token
    StatusRuntimeException noToken = assertThrows(StatusRuntimeException.class,
        () -> images.listImages(ListImagesRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, noToken.getStatus().getCode());
    images.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(
        StratusSystem.bearer(StratusSystem.MEMBER))).listImages(ListImagesRequest.getDefaultInstance());
  }

  /** A channel presenting {@code cert} (or none) to a server that must hold {@code role}. */
  private static ManagedChannel channel(DevCa.Issued cert, String address, Role role,
      String authority) throws Exception {
    TransportSecurity tls = TransportSecurity.open(cert == null
        ? new TlsSettings(system.pki.caCert(), null, null, false, Duration.ofMinutes(1))
        : TlsSettings.of(system.pki.caCert(), cert.cert(), cert.key(), Duration.ofMinutes(1)),
        "e2e intruder");
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(address, tls.channel(role));
    if (authority != null) {
      b.overrideAuthority(authority);
    }
    ManagedChannel ch = b.build();
    closers.add(() -> {
      ch.shutdownNow();
      tls.close();
    });
    return ch;
  }
}
