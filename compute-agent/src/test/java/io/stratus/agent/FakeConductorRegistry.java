package io.stratus.agent;

import io.grpc.stub.StreamObserver;
import io.stratus.proto.agent.v1.AgentRegistryGrpc;
import io.stratus.proto.agent.v1.HeartbeatRequest;
import io.stratus.proto.agent.v1.HeartbeatResponse;
import io.stratus.proto.agent.v1.RegisterRequest;
import io.stratus.proto.agent.v1.RegisterResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stands in for the conductor's AgentRegistry in agent tests (the real conductor is
 * exercised end to end elsewhere): records registrations and counts beats.
 */
final class FakeConductorRegistry extends AgentRegistryGrpc.AgentRegistryImplBase {
  final List<RegisterRequest> registrations = new CopyOnWriteArrayList<>();
  final AtomicInteger beats = new AtomicInteger();

  @Override
  public void register(RegisterRequest r, StreamObserver<RegisterResponse> o) {
    registrations.add(r);
    o.onNext(RegisterResponse.newBuilder().setHeartbeatIntervalMs(200).build());
    o.onCompleted();
  }

  @Override
  public StreamObserver<HeartbeatRequest> heartbeat(StreamObserver<HeartbeatResponse> o) {
    return new StreamObserver<>() {
      @Override
      public void onNext(HeartbeatRequest value) {
        beats.incrementAndGet();
        o.onNext(HeartbeatResponse.newBuilder().setHeartbeatIntervalMs(200).build());
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {
        o.onCompleted();
      }
    };
  }
}
