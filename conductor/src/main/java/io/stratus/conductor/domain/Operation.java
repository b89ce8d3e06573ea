package io.stratus.conductor.domain;

import java.util.EnumSet;
import java.util.List;
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
 * reboot SOFT  active                                   null → rebooting → reboot_pending
 *                 → reboot_started → null (active); a guest that does not shut down in
 *                 time is hard-rebooted in reboot_started (Nova's fallback)
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
      "snapshot",
      List.of(TaskState.IMAGE_SNAPSHOT_PENDING, TaskState.IMAGE_SNAPSHOT,
          TaskState.IMAGE_PENDING_UPLOAD, TaskState.IMAGE_UPLOADING),
      null,
      null),
  START(
      "start",
      EnumSet.of(VmState.STOPPED),
      EnumSet.noneOf(TaskState.class),
      TaskState.POWERING_ON,
      "compute_start_instance",
      "power_on",
      List.of(TaskState.POWERING_ON),
      VmState.ACTIVE,
      null),
  STOP(
      "stop",
      EnumSet.of(VmState.ACTIVE, VmState.ERROR),
      EnumSet.noneOf(TaskState.class),
      TaskState.POWERING_OFF,
      "compute_stop_instance",
      "power_off",
      List.of(TaskState.POWERING_OFF),
      VmState.STOPPED,
      null),
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
      "reboot",
      List.of(TaskState.REBOOTING_HARD, TaskState.REBOOT_PENDING_HARD,
          TaskState.REBOOT_STARTED_HARD),
      VmState.ACTIVE,
      VmState.ERROR),
  REBOOT_SOFT(
      "reboot",
      EnumSet.of(VmState.ACTIVE),
      EnumSet.noneOf(TaskState.class),
      TaskState.REBOOTING,
      "compute_reboot_instance",
      "reboot",
      List.of(TaskState.REBOOTING, TaskState.REBOOT_PENDING, TaskState.REBOOT_STARTED),
      VmState.ACTIVE,
      VmState.ERROR),
  CREATE(
      "create",
      EnumSet.noneOf(VmState.class),
      EnumSet.noneOf(TaskState.class),
      TaskState.SPAWNING,
      "compute_build_and_run_instance",
      "create",
      List.of(TaskState.SPAWNING),
      VmState.ACTIVE,
      VmState.ERROR),
  DELETE(
      "delete",
      EnumSet.complementOf(EnumSet.of(VmState.DELETED)),
      EnumSet.allOf(TaskState.class),
      TaskState.DELETING,
      "compute_terminate_instance",
      "delete",
      List.of(TaskState.DELETING),
      VmState.DELETED,
      VmState.ERROR);

  private final String actionName;
  private final Set<VmState> allowedVmStates;
  private final Set<TaskState> interruptibleTaskStates;
  private final TaskState startTaskState;
  private final String eventName;
  private final String notificationPrefix;
  private final List<TaskState> steps;
  private final VmState vmOnSuccess;
  private final VmState vmOnFailure;

  Operation(
      String actionName,
      Set<VmState> allowedVmStates,
      Set<TaskState> interruptibleTaskStates,
      TaskState startTaskState,
      String eventName,
      String notificationPrefix,
      List<TaskState> steps,
      VmState vmOnSuccess,
      VmState vmOnFailure) {
    this.actionName = actionName;
    this.allowedVmStates = allowedVmStates;
    this.interruptibleTaskStates = interruptibleTaskStates;
    this.startTaskState = startTaskState;
    this.eventName = eventName;
    this.notificationPrefix = notificationPrefix;
    this.steps = List.copyOf(steps);
    this.vmOnSuccess = vmOnSuccess;
    this.vmOnFailure = vmOnFailure;
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

  /** The task states this operation moves through on the compute host. */
  public Set<TaskState> ownTaskStates() {
    return EnumSet.copyOf(steps);
  }

  /**
   * Whether the agent may move the task from {@code from} to {@code to}: both are this
   * operation's steps and {@code to} comes later. The end (no task) comes only with the
   * result, never as a step.
   */
  public boolean legalStep(TaskState from, TaskState to) {
    int f = steps.indexOf(from);
    return f >= 0 && steps.indexOf(to) > f;
  }

  /** Whether {@code now} is at or past {@code step} in this operation's order. */
  public boolean atOrPast(TaskState now, TaskState step) {
    int n = steps.indexOf(now);
    int s = steps.indexOf(step);
    return n >= 0 && s >= 0 && n >= s;
  }

  /** The vm_state a success leaves; {@code null} leaves it unchanged (a snapshot). */
  public VmState vmOnSuccess() {
    return vmOnSuccess;
  }

  /**
   * The vm_state a failure on the host leaves, Nova's way: error where the guest may be
   * half made or half gone (reboot, spawn, delete); {@code null} leaves it unchanged.
   */
  public VmState vmOnFailure() {
    return vmOnFailure;
  }

  /** Whether a task_state (null = none) lets this operation begin. */
  public boolean allowsTaskState(TaskState current) {
    return current == null || interruptibleTaskStates.contains(current);
  }
}
