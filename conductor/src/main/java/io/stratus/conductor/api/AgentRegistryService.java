package io.stratus.conductor.api;

import io.stratus.support.grpc.GrpcErrors;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.proto.agent.v1.RegisterResponse;
import io.stratus.support.errors.ApiException;
import io.stratus.support.tls.PeerGuard;
import io.stratus.support.tls.PeerIdentity;
import java.util.List;

/**
 * gRPC adapter of {@code agent.v1.AgentRegistry}: agents register and heartbeat here. Over
 * TLS an agent may register and beat only as a host its certificate names (a DNS SAN);
 * anything else is PERMISSION_DENIED and changes nothing.
 */
public final class AgentRegistryService extends AgentRegistryGrpc.AgentRegistryImplBase {
  private final HostRegistry hosts;

  public AgentRegistryService(HostRegistry hosts) {
    this.hosts = hosts;
  }

  @Override
  public void register(RegisterRequest r, StreamObserver<RegisterResponse> o) {
    GrpcErrors.unary(o, () -> {
      requireCertificateFor(r.getHost());
      var caps = r.getCapabilities();
      var h = hosts.register(new HostRegistry.Registration(
          r.getHost(), r.getAddress(), r.getAgentVersion(), List.copyOf(r.getContractVersionsList()),
          caps.getHypervisor(), List.copyOf(caps.getStorageKindsList()), caps.getLiveSnapshot(),
          caps.getRbdDirectSnapshot(), caps.getQuiesce()));
      return RegisterResponse.newBuilder()
          .setHeartbeatIntervalMs((int) hosts.heartbeatInterval().toMillis())
          .setDisabled(h.disabled())
          .build();
    });
  }

  @Override
  public StreamObserver<HeartbeatRequest> heartbeat(StreamObserver<HeartbeatResponse> o) {
    return new StreamObserver<>() {
      private boolean closed;

      @Override
      public void onNext(HeartbeatRequest beat) {
        synchronized (this) {
          if (closed) {
            return;
          }
        }
        try {
          requireCertificateFor(beat.getHost());
          // answered from the heartbeat writer's thread once the beat is committed
          hosts.heartbeat(beat.getHost()).whenComplete((h, error) -> answer(h, error));
        } catch (RuntimeException e) {
          answer(null, e);
        }
      }

      private synchronized void answer(HostRegistry.Beat h, Throwable error) {
        if (closed) {
          return;
        }
        if (error != null) {
          closed = true;
          o.onError(GrpcErrors.toStatus(
              error instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                  ? c.getCause() : error));
          return;
        }
        o.onNext(HeartbeatResponse.newBuilder()
            .setHeartbeatIntervalMs((int) hosts.heartbeatInterval().toMillis())
            .setDisabled(h.disabled())
            .build());
      }

      @Override
      public synchronized void onError(Throwable t) {
        closed = true;
      }

      @Override
      public synchronized void onCompleted() {
        if (!closed) {
          closed = true;
          o.onCompleted();
        }
      }
    };
  }

  /** Over TLS, the caller's agent certificate must name {@code host}. */
  private static void requireCertificateFor(String host) {
    PeerIdentity peer = PeerGuard.peer();
    if (peer != null && !peer.isAgentFor(host)) {
      throw ApiException.permissionDenied("host: the certificate of agent " + peer.name()
          + " names " + peer.dnsNames() + ", not host '" + host + "'");
    }
  }
}
