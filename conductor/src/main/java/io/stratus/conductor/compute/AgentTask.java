package io.stratus.conductor.compute;

import io.stratus.conductor.domain.Operation;
import io.stratus.proto.agent.v1.InstanceSpec;
import java.util.UUID;

/**
 * One piece of work sent to a host's agent.
 *
 * @param operation what to do
 * @param requestId the user request; also the agent's idempotent operation id
 * @param instance everything the agent needs to rebuild the domain
 * @param host the compute host's name, which the agent's certificate must carry
 * @param hostAddress the agent's gRPC address
 * @param imageId the queued image a snapshot fills, else {@code null}
 * @param stopTimeoutSeconds clean-shutdown timeout for stop
 * @param requireQuiesce a volume-backed snapshot must be quiesced (os_require_quiesce)
 */
public record AgentTask(
    Operation operation,
    String requestId,
    InstanceSpec instance,
    String host,
    String hostAddress,
    String imageId,
    int stopTimeoutSeconds,
    boolean requireQuiesce) {

  /** A task without the quiesce requirement. */
  public AgentTask(Operation operation, String requestId, InstanceSpec instance,
      String host, String hostAddress, String imageId, int stopTimeoutSeconds) {
    this(operation, requestId, instance, host, hostAddress, imageId, stopTimeoutSeconds, false);
  }

  /** The same task for an agent that now serves at {@code address} (it re-registered). */
  public AgentTask withHostAddress(String address) {
    return new AgentTask(operation, requestId, instance, host, address, imageId,
        stopTimeoutSeconds, requireQuiesce);
  }

  public UUID uuid() {
    return UUID.fromString(instance.getUuid());
  }
}
