package io.stratus.agent.ops;

import io.stratus.proto.agent.v1.TaskState;

/** What a running task may do: report transitions and progress, and notice a cancel. */
public interface TaskContext {
  /** The agent moved from {@code expected} to {@code next} (applied by the conductor's CAS). */
  void transition(TaskState expected, TaskState next, String step);

  /** Bytes moved so far. */
  void progress(long done, long total);

  /** Throws {@link CancelledException} if CancelOperation asked this task to stop. */
  void checkCancelled();

  /** Whether a cancel was asked (for loops that clean up before throwing). */
  boolean cancelRequested();
}
