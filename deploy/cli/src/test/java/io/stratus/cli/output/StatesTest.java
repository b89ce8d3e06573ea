package io.stratus.cli.output;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.ImageStatus;
import org.junit.jupiter.api.Test;

class StatesTest {
  @Test
  void namesAreNovas() {
    assertEquals("active", States.vm(VmState.VM_STATE_ACTIVE));
    assertEquals("powering-on", States.task(TaskState.TASK_STATE_POWERING_ON));
    assertEquals("powering-off", States.task(TaskState.TASK_STATE_POWERING_OFF));
    assertEquals("image_uploading", States.task(TaskState.TASK_STATE_IMAGE_UPLOADING));
    assertEquals("reboot_started_hard", States.task(TaskState.TASK_STATE_REBOOT_STARTED_HARD));
    assertEquals("none", States.task(TaskState.TASK_STATE_NONE));
    assertEquals("Running", States.power(PowerState.POWER_STATE_RUNNING));
    assertEquals("NOSTATE", States.power(PowerState.POWER_STATE_NOSTATE));
    assertEquals("pending_delete", States.image(ImageStatus.IMAGE_STATUS_PENDING_DELETE));
  }
}
