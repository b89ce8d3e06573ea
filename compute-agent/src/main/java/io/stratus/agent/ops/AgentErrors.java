package io.stratus.agent.ops;

import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.support.errors.ApiException;

/**
 * How an operation's failure reads to the conductor, before {@link
 * io.stratus.support.grpc.GrpcErrors} (the one mapper) turns it into a status: a
 * cancellation is CANCELLED, a domain that is gone is NOT_FOUND, the agent's own refusals
 * and the statuses of its calls to other services keep theirs, and any other failure is
 * sent with its message (the conductor records it as the server's fault) as INTERNAL.
 */
final class AgentErrors {
  private AgentErrors() {}

  static RuntimeException of(String rpc, Throwable e) {
    return switch (e) {
      case ApiException api -> api;
      case io.grpc.StatusRuntimeException sre -> sre;
      case CancelledException c -> ApiException.cancelled(c.getMessage());
      case HypervisorException h when h.kind() == HypervisorException.Kind.NO_DOMAIN ->
          ApiException.notFound(h.getMessage());
      case HypervisorException h -> ApiException.failedForPeer(h.getMessage(), h);
      default -> ApiException.failedForPeer(rpc + " failed: " + e.getMessage(), e);
    };
  }
}
