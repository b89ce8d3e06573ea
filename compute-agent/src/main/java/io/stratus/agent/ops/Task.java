package io.stratus.agent.ops;

import io.stratus.proto.agent.v1.TaskResult;

/** A unit of agent work: runs on its own thread, reports through the context. */
@FunctionalInterface
public interface Task {
  /** Does the work; returns the result or throws (ApiException, CancelledException, …). */
  TaskResult run(TaskContext context) throws Exception;
}
