package io.stratus.conductor.compute;

import io.grpc.Status;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.conductor.domain.Operation;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.proto.agent.v1.AttachOperationRequest;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.CancelOperationResponse;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotVolumesRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskUpdate;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor's side of the agent's task RPCs: turns an {@link AgentTask} into the
 * request its operation needs and opens the stream, attaches to an operation by its id,
 * and cancels one. Nothing here touches the database.
 */
final class AgentCalls {
  private static final Logger LOG = LoggerFactory.getLogger(AgentCalls.class);

  private final AgentClients agents;
  private final Duration callTimeout;

  AgentCalls(AgentClients agents, Duration callTimeout) {
    this.agents = agents;
    this.callTimeout = callTimeout;
  }

  /** The RBD snapshot name a volume-backed createImage gives every volume. */
  static String volumeSnapshotName(String imageId) {
    return "image-" + imageId;
  }

  private ComputeAgentGrpc.ComputeAgentStub stub(AgentTask task) {
    return agents.stub(task.host(), task.hostAddress())
        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(
            io.stratus.support.grpc.RequestIds.headers(task.requestId())))
        .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Starts the task's operation on its agent, or re-attaches to it if the agent already
   * runs (or ran) that operation id: the agent never runs an id twice.
   */
  void send(AgentTask task, ClientResponseObserver<Object, TaskUpdate> stream) {
    var stub = stub(task);
    var spec = task.instance();
    String id = task.requestId();
    switch (task.operation()) {
      case CREATE_IMAGE -> {
        if (spec.getVolumesCount() > 0) {
          stub.snapshotVolumes(SnapshotVolumesRequest.newBuilder().setOperationId(id)
              .setInstance(spec).setSnapshotName(volumeSnapshotName(task.imageId()))
              .setRequireQuiesce(task.requireQuiesce()).build(), typed(stream));
        } else {
          stub.snapshot(SnapshotRequest.newBuilder().setOperationId(id).setInstance(spec)
              .setImageId(task.imageId()).setAllowLive(true)
              .setRequireQuiesce(task.requireQuiesce()).build(), typed(stream));
        }
      }
      case START -> stub.powerOn(
          PowerOnRequest.newBuilder().setOperationId(id).setInstance(spec).build(), typed(stream));
      case STOP -> stub.powerOff(PowerOffRequest.newBuilder().setOperationId(id).setInstance(spec)
          .setCleanShutdownTimeoutSeconds(task.stopTimeoutSeconds()).build(), typed(stream));
      case REBOOT_HARD -> stub.reboot(RebootRequest.newBuilder().setOperationId(id)
          .setInstance(spec).setType(RebootType.REBOOT_TYPE_HARD).build(), typed(stream));
      case REBOOT_SOFT -> stub.reboot(RebootRequest.newBuilder().setOperationId(id)
          .setInstance(spec).setType(RebootType.REBOOT_TYPE_SOFT)
          .setCleanShutdownTimeoutSeconds(task.stopTimeoutSeconds()).build(), typed(stream));
      case CREATE -> stub.spawn(
          SpawnRequest.newBuilder().setOperationId(id).setInstance(spec).build(), typed(stream));
      case DELETE -> stub.destroy(
          DestroyRequest.newBuilder().setOperationId(id).setInstance(spec).build(), typed(stream));
    }
  }

  /** Follows an operation the agent knows, starting nothing (NOT_FOUND if it does not). */
  void attach(AgentTask task, ClientResponseObserver<Object, TaskUpdate> stream) {
    stub(task).attachOperation(
        AttachOperationRequest.newBuilder().setOperationId(task.requestId()).build(),
        typed(stream));
  }

  /**
   * Whether following this task after losing its stream means attaching only. A snapshot
   * that the agent no longer knows is lost (its image half-written): starting it again late
   * would snapshot a different moment. Power operations and deletes are idempotent and are
   * sent again with the same id, which re-attaches when the agent still knows them.
   */
  static boolean attachOnly(Operation op) {
    return op == Operation.CREATE_IMAGE;
  }

  /** Asks the agent to cancel an operation; best effort, logged when not delivered. */
  void cancel(String host, String hostAddress, String operationId) {
    agents.stub(host, hostAddress).withDeadlineAfter(30, TimeUnit.SECONDS).cancelOperation(
        CancelOperationRequest.newBuilder().setOperationId(operationId).build(),
        new StreamObserver<>() {
          @Override
          public void onNext(CancelOperationResponse value) {}

          @Override
          public void onError(Throwable t) {
            LOG.warn("cancel was not delivered; request={} status={}",
                operationId, Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {}
        });
  }

  @SuppressWarnings("unchecked")
  private static <R> ClientResponseObserver<R, TaskUpdate> typed(
      ClientResponseObserver<Object, TaskUpdate> stream) {
    return (ClientResponseObserver<R, TaskUpdate>) (ClientResponseObserver<?, TaskUpdate>) stream;
  }
}
