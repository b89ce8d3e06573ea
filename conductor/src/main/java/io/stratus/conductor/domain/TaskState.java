package io.stratus.conductor.domain;

import java.util.Arrays;

/**
 * Nova's task_state: the transition in flight. "No task" is {@code null} in the database
 * and in domain code, exactly as in Nova; this enum only names real tasks.
 */
public enum TaskState {
  SCHEDULING("scheduling"),
  SPAWNING("spawning"),
  DELETING("deleting"),
  IMAGE_SNAPSHOT_PENDING("image_snapshot_pending"),
  IMAGE_SNAPSHOT("image_snapshot"),
  IMAGE_PENDING_UPLOAD("image_pending_upload"),
  IMAGE_UPLOADING("image_uploading"),
  POWERING_ON("powering-on"),
  POWERING_OFF("powering-off"),
  REBOOTING("rebooting"),
  REBOOT_PENDING("reboot_pending"),
  REBOOT_STARTED("reboot_started"),
  REBOOTING_HARD("rebooting_hard"),
  REBOOT_PENDING_HARD("reboot_pending_hard"),
  REBOOT_STARTED_HARD("reboot_started_hard"),
  PAUSING("pausing"),
  UNPAUSING("unpausing"),
  SUSPENDING("suspending"),
  RESUMING("resuming");

  private final String dbName;

  TaskState(String dbName) {
    this.dbName = dbName;
  }

  /** Nova's spelling, as stored in the {@code instances.task_state} column. */
  public String dbName() {
    return dbName;
  }

  /** Parses a stored value; {@code null} stays {@code null} (no task). */
  public static TaskState fromDb(String value) {
    if (value == null) {
      return null;
    }
    return Arrays.stream(values())
        .filter(s -> s.dbName.equals(value))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown task_state " + value));
  }

  /** The stored spelling of a possibly-null task state. */
  public static String dbNameOf(TaskState state) {
    return state == null ? "none" : state.dbName;
  }
}
