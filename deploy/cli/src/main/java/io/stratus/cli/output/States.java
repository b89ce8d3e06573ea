package io.stratus.cli.output;

import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Nova's and Glance's spellings of the API's enum values, as operators know them from the
 * OpenStack client: {@code VM_STATE_ACTIVE → active}, {@code TASK_STATE_POWERING_ON →
 * powering-on}, {@code TASK_STATE_IMAGE_UPLOADING → image_uploading}, {@code
 * POWER_STATE_RUNNING → Running}, {@code IMAGE_STATUS_ACTIVE → active}.
 */
public final class States {
  private States() {}

  public static String vm(VmState s) {
    return s == VmState.VM_STATE_UNSPECIFIED ? "" : lower(s.name(), "VM_STATE_");
  }

  /** Nova writes the two power tasks with a hyphen and every other task with underscores. */
  public static String task(TaskState s) {
    String name = lower(s.name(), "TASK_STATE_");
    return name.startsWith("powering_") ? name.replace('_', '-') : name;
  }

  /** The OpenStack client's power-state names (NOSTATE, Running, Paused, Shutdown, …). */
  public static String power(PowerState s) {
    return switch (s) {
      case POWER_STATE_NOSTATE -> "NOSTATE";
      case POWER_STATE_RUNNING -> "Running";
      case POWER_STATE_PAUSED -> "Paused";
      case POWER_STATE_SHUTDOWN -> "Shutdown";
      case POWER_STATE_CRASHED -> "Crashed";
      case POWER_STATE_SUSPENDED -> "Suspended";
      case UNRECOGNIZED -> "unknown";
    };
  }

  public static String image(ImageStatus s) {
    return s == ImageStatus.IMAGE_STATUS_UNSPECIFIED ? "" : lower(s.name(), "IMAGE_STATUS_");
  }

  public static String host(HostStatus s) {
    return s == HostStatus.HOST_STATUS_UNSPECIFIED ? "" : lower(s.name(), "HOST_STATUS_");
  }

  /** The Nova names of the vm_states a filter may ask for. */
  public static List<String> vmNames() {
    return Arrays.stream(VmState.values())
        .filter(s -> s != VmState.UNRECOGNIZED && s != VmState.VM_STATE_UNSPECIFIED)
        .map(States::vm)
        .toList();
  }

  /** The Glance names of the image statuses a filter may ask for. */
  public static List<String> imageNames() {
    return Arrays.stream(ImageStatus.values())
        .filter(s -> s != ImageStatus.UNRECOGNIZED
            && s != ImageStatus.IMAGE_STATUS_UNSPECIFIED)
        .map(States::image)
        .toList();
  }

  private static String lower(String name, String prefix) {
    if (name.equals("UNRECOGNIZED")) {
      return "unknown";
    }
    return name.substring(prefix.length()).toLowerCase(Locale.ROOT);
  }
}
