package io.stratus.cli.host;

import io.stratus.cli.Session;
import io.stratus.cli.output.Formats;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.States;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.DisableHostRequest;
import io.stratus.proto.conductor.v1.EnableHostRequest;
import io.stratus.proto.conductor.v1.Host;
import io.stratus.proto.conductor.v1.ListHostsRequest;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
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

  /**
   * Takes a host out of service (Nova's {@code compute service set --disable}): no new
   * server is placed there; its servers keep working. Prints the host.
   */
  @Command(name = "disable", description = "Disable a compute host: no new servers are"
      + " placed on it (needs an admin token).")
  int disable(@Parameters(paramLabel = "HOST", description = "Host name.") String name,
      @Option(names = "--reason", paramLabel = "TEXT", description = "Why (at most 255"
          + " characters).") String reason,
      @Mixin OutputFormat format) {
    Session session = Session.of(spec);
    Host host = session.clients().hosts().disableHost(DisableHostRequest.newBuilder()
        .setName(name).setReason(reason == null ? "" : reason).build()).getHost();
    new Output(session.terminal().out(), format).printList(List.of(host), HostCommand::table);
    return 0;
  }

  /** Puts a disabled host back into service. Prints the host. */
  @Command(name = "enable", description = "Enable a disabled compute host (needs an admin"
      + " token).")
  int enable(@Parameters(paramLabel = "HOST", description = "Host name.") String name,
      @Mixin OutputFormat format) {
    Session session = Session.of(spec);
    Host host = session.clients().hosts().enableHost(EnableHostRequest.newBuilder()
        .setName(name).build()).getHost();
    new Output(session.terminal().out(), format).printList(List.of(host), HostCommand::table);
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
