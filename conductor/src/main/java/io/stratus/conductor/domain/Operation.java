package io.stratus.conductor.domain;

import java.util.EnumSet;
import java.util.Set;

/**
 * The user operations on an instance and Nova's rules for each (SPEC §4): the vm_states
 * that allow it, the task_states it may start from (null = no task in flight is always
 * allowed), the task_state the API sets, and the events it records.
 *
 * <pre>
 * createImage  active|stopped|paused|suspended          null → image_snapshot_pending
 *                 → image_snapshot → image_pending_upload → image_uploading → null
 * start        stopped                                  null → powering-on → null (active)
 * stop         active|error                             null → powering-off → null (stopped)
 * reboot HARD  active|stopped|paused|suspended|error    null|reboot*|pausing|unpausing|
 *                                                       suspending|resuming → rebooting_hard
 *                 → reboot_pending_hard → reboot_started_hard → null (active)
 * delete       any                                      any → deleting → (deleted)
 * </pre>
 */
public enum Operation {
  CREATE_IMAGE(
      "createImage",
      EnumSet.of(VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED),
      EnumSet.noneOf(TaskState.class),
      TaskState.IMAGE_SNAPSHOT_PENDING,
      "compute_snapshot_instance",
      "snapshot"),
  START(
      "start",
      EnumSet.of(VmState.STOPPED),
      EnumSet.noneOf(TaskState.class),
      TaskState.POWERING_ON,
      "compute_start_instance",
      "power_on"),
  STOP(
      "stop",
      EnumSet.of(VmState.ACTIVE, VmState.ERROR),
      EnumSet.noneOf(TaskState.class),
      TaskState.POWERING_OFF,
      "compute_stop_instance",
      "power_off"),
  REBOOT_HARD(
      "reboot",
      EnumSet.of(
          VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR),
      EnumSet.of(
          TaskState.REBOOTING,
          TaskState.REBOOT_PENDING,
          TaskState.REBOOT_STARTED,
          TaskState.REBOOTING_HARD,
          TaskState.REBOOT_PENDING_HARD,
          TaskState.REBOOT_STARTED_HARD,
          TaskState.PAUSING,
          TaskState.UNPAUSING,
          TaskState.SUSPENDING,
          TaskState.RESUMING),
      TaskState.REBOOTING_HARD,
      "compute_reboot_instance",
      "reboot"),
  CREATE(
      "create",
      EnumSet.noneOf(VmState.class),
      EnumSet.noneOf(TaskState.class),
      TaskState.SPAWNING,
      "compute_build_and_run_instance",
      "create"),
  DELETE(
      "delete",
      EnumSet.complementOf(EnumSet.of(VmState.DELETED)),
      EnumSet.allOf(TaskState.class),
      TaskState.DELETING,
      "compute_terminate_instance",
      "delete");

  private final String actionName;
  private final Set<VmState> allowedVmStates;
  private final Set<TaskState> interruptibleTaskStates;
  private final TaskState startTaskState;
  private final String eventName;
  private final String notificationPrefix;

  Operation(
      String actionName,
      Set<VmState> allowedVmStates,
      Set<TaskState> interruptibleTaskStates,
      TaskState startTaskState,
      String eventName,
      String notificationPrefix) {
    this.actionName = actionName;
    this.allowedVmStates = allowedVmStates;
    this.interruptibleTaskStates = interruptibleTaskStates;
    this.startTaskState = startTaskState;
    this.eventName = eventName;
    this.notificationPrefix = notificationPrefix;
  }

  /** Nova's action name, recorded in {@code instance_actions.action}. */
  public String actionName() {
    return actionName;
  }

  public Set<VmState> allowedVmStates() {
    return allowedVmStates;
  }

  /** Task states besides "none" that this operation may take over. */
  public Set<TaskState> interruptibleTaskStates() {
    return interruptibleTaskStates;
  }

  /** The task_state the API sets when it accepts the request. */
  public TaskState startTaskState() {
    return startTaskState;
  }

  /** The action event recorded for the compute-host step. */
  public String eventName() {
    return eventName;
  }

  /** Notification event type for the start of the work, e.g. {@code snapshot.start}. */
  public String startNotification() {
    return notificationPrefix + ".start";
  }

  /** Notification event type for the end of the work, e.g. {@code snapshot.end}. */
  public String endNotification() {
    return notificationPrefix + ".end";
  }

  /** The task states this operation moves through on the compute host, in order. */
  public Set<TaskState> ownTaskStates() {
    return switch (this) {
      case CREATE_IMAGE -> EnumSet.of(
          TaskState.IMAGE_SNAPSHOT_PENDING,
          TaskState.IMAGE_SNAPSHOT,
          TaskState.IMAGE_PENDING_UPLOAD,
          TaskState.IMAGE_UPLOADING);
      case START -> EnumSet.of(TaskState.POWERING_ON);
      case STOP -> EnumSet.of(TaskState.POWERING_OFF);
      case REBOOT_HARD -> EnumSet.of(
          TaskState.REBOOTING_HARD, TaskState.REBOOT_PENDING_HARD, TaskState.REBOOT_STARTED_HARD);
      case CREATE -> EnumSet.of(TaskState.SPAWNING);
      case DELETE -> EnumSet.of(TaskState.DELETING);
    };
  }

  /** Whether a task_state (null = none) lets this operation begin. */
  public boolean allowsTaskState(TaskState current) {
    return current == null || interruptibleTaskStates.contains(current);
  }
}
