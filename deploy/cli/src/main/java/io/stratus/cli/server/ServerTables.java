package io.stratus.cli.server;

import io.stratus.cli.ApiErrors;
import io.stratus.cli.output.Formats;
import io.stratus.cli.output.States;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.RootDiskKind;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;
import java.util.List;
import java.util.Locale;

/** Table layouts of servers and their actions. */
public final class ServerTables {
  private ServerTables() {}

  public static Table list(List<Server> servers) {
    Table t = Table.columns("ID", "Name", "Status", "Task State", "Power State", "Host");
    for (Server s : servers) {
      t.row(s.getId(), s.getName(), States.vm(s.getVmState()), States.task(s.getTaskState()),
          States.power(s.getPowerState()), s.getHost());
    }
    return t;
  }

  public static Table show(Server s) {
    Table t = Table.fields()
        .row("id", s.getId())
        .row("name", s.getName())
        .row("status", States.vm(s.getVmState()))
        .row("task_state", States.task(s.getTaskState()))
        .row("power_state", States.power(s.getPowerState()))
        .row("host", s.getHost())
        .row("image", s.getImageRef())
        .row("flavor", flavor(s.getFlavor()))
        .row("root_disk", rootDisk(s.getRootDiskKind()))
        .row("project_id", s.getProjectId())
        .row("user_id", s.getUserId())
        .row("locked", s.getLocked()
            + (s.getLockedBy().isEmpty() ? "" : " (by " + s.getLockedBy() + ")"))
        .row("properties", Formats.map(s.getMetadataMap()))
        .row("fault", s.hasFault()
            ? ApiErrors.describe(s.getFault()) + " at " + Formats.time(s.getFault().getCreatedAt())
            : "")
        .row("created", Formats.time(s.getCreatedAt()))
        .row("updated", Formats.time(s.getUpdatedAt()));
    if (s.hasDeletedAt()) {
      t.row("deleted", Formats.time(s.getDeletedAt()));
    }
    return t.row("version", s.getVersion());
  }

  /** One row per action, then one indented row per event of it. */
  public static Table actions(List<ServerAction> actions) {
    Table t = Table.columns("Request ID", "Action / Event", "Start", "Finish", "Result",
        "Message");
    for (ServerAction a : actions) {
      String result = !a.getMessage().isEmpty() ? "Error"
          : a.hasFinishTime() ? "Success" : "";
      t.row(a.getRequestId(), a.getAction(), Formats.time(a.getStartTime()),
          Formats.time(a.getFinishTime()), result, a.getMessage());
      a.getEventsList().forEach(e -> t.row("", "  " + e.getEvent(),
          Formats.time(e.getStartTime()), Formats.time(e.getFinishTime()), e.getResult(),
          e.getDetails()));
    }
    return t;
  }

  static String flavor(Flavor f) {
    return "vcpus=" + f.getVcpus() + ", ram=" + f.getMemoryMb() + " MB, disk="
        + (f.getRootGb() == 0 ? "image size" : f.getRootGb() + " GB");
  }

  private static String rootDisk(RootDiskKind k) {
    return k == RootDiskKind.ROOT_DISK_KIND_UNSPECIFIED
        ? ""
        : k.name().substring("ROOT_DISK_KIND_".length()).toLowerCase(Locale.ROOT);
  }
}
