package io.stratus.cli.host;

import io.stratus.cli.Session;
import io.stratus.cli.output.Formats;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.States;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code stratus host …}: the conductor's {@code Hosts} API (admin token). */
@Command(name = "host", description = "Compute hosts (Nova's compute services); admin only.")
public final class HostCommand {
  @Spec
  private CommandSpec spec;

  /** Lists every registered host: up/down, enabled/disabled, load and capabilities. */
  @Command(name = "list", description = "List compute hosts (needs an admin token).")
  int list(@Mixin OutputFormat format) {
    Session session = Session.of(spec);
    List<Host> hosts =
        session.clients().hosts().listHosts(ListHostsRequest.getDefaultInstance()).getHostsList();
    new Output(session.terminal().out(), format).printList(hosts, HostCommand::table);
    return 0;
  }

  /** Nova's columns: Status is enabled/disabled, State is up/down. */
  static Table table(List<Host> hosts) {
    Table t = Table.columns("Name", "Address", "Status", "State", "Servers", "Hypervisor",
        "Storage", "Last Heartbeat");
    for (Host h : hosts) {
      t.row(h.getName(), h.getAddress(),
          h.getDisabled() ? "disabled" : "enabled",
          States.host(h.getStatus()),
          h.getServerCount(),
          h.getCapabilities().getHypervisor(),
          String.join(",", h.getCapabilities().getStorageKindsList()),
          Formats.time(h.getLastHeartbeat()));
    }
    return t;
  }
}
