package io.stratus.e2e;

import io.stratus.proto.conductor.v1.TaskState;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One kill point of the fault-injection suite: which process is killed with SIGKILL,
 * during which operation, once the server shows which task state, and how long after.
 * A plan of points is made from a seed, so a run is replayed exactly by its seed.
 *
 * @param n the point's number in its plan
 * @param component the process killed
 * @param operation the operation in flight
 * @param trigger the task state seen before the kill (the operation's first state = as
 *     soon as it is accepted)
 * @param delayMs how long after the trigger the kill comes
 */
record FaultPoint(int n, Component component, Op operation, TaskState trigger, int delayMs) {

  /** The processes the suite kills. */
  enum Component { CONDUCTOR, AGENT, GATEWAY }

  /** The operations the suite interrupts, with the task states each passes through. */
  enum Op {
    LIVE_SNAPSHOT(false, TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
        TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING),
    COLD_SNAPSHOT(false, TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
        TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING),
    RBD_SNAPSHOT(true, TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
        TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING),
    VOLUME_SNAPSHOT(true, TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
        TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD),
    START(false, TaskState.TASK_STATE_POWERING_ON),
    STOP(false, TaskState.TASK_STATE_POWERING_OFF),
    HARD_REBOOT(false, TaskState.TASK_STATE_REBOOTING_HARD,
        TaskState.TASK_STATE_REBOOT_PENDING_HARD, TaskState.TASK_STATE_REBOOT_STARTED_HARD);

    final boolean needsCeph;
    final List<TaskState> states;

    Op(boolean needsCeph, TaskState... states) {
      this.needsCeph = needsCeph;
      this.states = List.of(states);
    }

    boolean snapshot() {
      return name().endsWith("SNAPSHOT");
    }
  }

  /**
   * {@code perComponent} points for each component, drawn from {@code seed}: the
   * operations cycle so each is hit about as often, trigger and delay are random.
   */
  static List<FaultPoint> plan(long seed, int perComponent, boolean ceph) {
    Random random = new Random(seed);
    List<Op> ops = new ArrayList<>();
    for (Op op : Op.values()) {
      if (ceph || !op.needsCeph) {
        ops.add(op);
      }
    }
    List<FaultPoint> plan = new ArrayList<>();
    int n = 0;
    for (int i = 0; i < perComponent; i++) {
      for (Component c : Component.values()) {
        Op op = ops.get((i + c.ordinal() * 3 + random.nextInt(ops.size())) % ops.size());
        TaskState trigger = op.states.get(random.nextInt(op.states.size()));
        plan.add(new FaultPoint(++n, c, op, trigger, random.nextInt(400)));
      }
    }
    return plan;
  }

  String describe() {
    return component.name().toLowerCase() + " killed " + delayMs + " ms after "
        + trigger.name().substring("TASK_STATE_".length()).toLowerCase() + " of "
        + operation.name().toLowerCase();
  }
}
