package io.stratus.cli.server;

import io.stratus.cli.Names;
import io.stratus.cli.Session;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.ServerAction;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code stratus server event …}: a server's action log (Nova's instance actions). */
@Command(name = "event", description = "A server's actions (one per request) and their events.")
public final class ServerEventCommand {
  @Spec
  private CommandSpec spec;

  /** Lists the server's actions, newest first, each followed by its events. */
  @Command(name = "list", description = {
      "List a server's actions, newest first: action, request id, start and finish, "
          + "result or error message, then each action's events indented."})
  int list(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String serverIdRef,
      @Mixin OutputFormat format) {
    String serverId = Names.server(Session.of(spec), serverIdRef);
    Session session = Session.of(spec);
    List<ServerAction> actions = session.clients().servers()
        .listServerActions(ListServerActionsRequest.newBuilder().setServerId(serverId).build())
        .getActionsList();
    new Output(session.terminal().out(), format).printList(actions, ServerTables::actions);
    return 0;
  }
}
