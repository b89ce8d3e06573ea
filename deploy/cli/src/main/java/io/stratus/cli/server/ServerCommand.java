package io.stratus.cli.server;

import io.stratus.cli.Names;
import com.google.protobuf.MessageOrBuilder;
import io.stratus.cli.CliException;
import io.stratus.cli.Session;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.CreateServerResponse;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ListServersResponse;
import io.stratus.proto.conductor.v1.LockServerRequest;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServersGrpc.ServersBlockingStub;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.UnlockServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code stratus server …}: the conductor's {@code Servers} API. Verbs that start a task
 * return at once with the request id; with {@code --wait} they follow the server until
 * its task ends, print its final state and exit 1 if a fault was recorded meanwhile.
 */
@Command(
    name = "server",
    description = "Servers (Nova's instances): list, show, create, delete, start, stop, "
        + "reboot, lock, snapshot (image create) and their action log (event list).",
    subcommands = {ServerImageCommand.class, ServerEventCommand.class})
public final class ServerCommand {
  private static final String WAIT =
      "Follow the server until its task ends and print its final state; exit 1 if a fault "
          + "was recorded meanwhile.";

  @Spec
  private CommandSpec spec;

  /** Lists servers, newest first, every page. */
  @Command(name = "list", description = "List servers, newest first.")
  int list(
      @Option(names = "--all-projects", description = "Servers of every project (admin only).")
          boolean allProjects,
      @Option(names = "--status", paramLabel = "STATUS", converter = VmStateConverter.class,
          completionCandidates = VmStateConverter.Names.class,
          description = "Only servers in this vm_state: ${COMPLETION-CANDIDATES}.")
          VmState status,
      @Mixin OutputFormat format) {
    List<Server> servers = new ArrayList<>();
    String page = "";
    do {
      ListServersResponse r = session().clients().servers().listServers(
          ListServersRequest.newBuilder()
              .setPageSize(1000)
              .setPageToken(page)
              .setAllProjects(allProjects)
              .setVmState(status == null ? VmState.VM_STATE_UNSPECIFIED : status)
              .build());
      servers.addAll(r.getServersList());
      page = r.getNextPageToken();
    } while (!page.isEmpty());
    output(format).printList(servers, ServerTables::list);
    return 0;
  }

  /** Shows one server with its latest fault. */
  @Command(name = "show", description = "Show one server.")
  int show(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    Server s = session().clients().servers()
        .getServer(GetServerRequest.newBuilder().setServerId(id).build()).getServer();
    output(format).print(s, ServerTables::show);
    return 0;
  }

  /** Boots a server; prints it in vm_state building, or its final state with --wait. */
  @Command(name = "create", description = {
      "Boot a server from an image on a compute host.",
      "Prints the server in vm_state building (JSON: the CreateServerResponse); with --wait, "
          + "its final state (JSON: the Server)."})
  int create(
      @Parameters(paramLabel = "NAME", description = "Server name.") String name,
      @Option(names = "--image", required = true, paramLabel = "IMAGE",
          description = "Name or id of an active image.") String image,
      @Option(names = "--flavor-vcpus", required = true, paramLabel = "N",
          description = "Virtual CPUs (1..64).") int vcpus,
      @Option(names = "--flavor-ram", required = true, paramLabel = "MB",
          description = "Memory in MB (64..1048576).") int ramMb,
      @Option(names = "--flavor-disk", paramLabel = "GB", defaultValue = "0",
          description = "Root disk in GB; 0 = the image's virtual size (default).") int diskGb,
      @Option(names = "--host", paramLabel = "HOST",
          description = "Compute host to boot on (admin only); default: least loaded.")
          String host,
      @Option(names = "--root-disk", paramLabel = "KIND", defaultValue = "local",
          description = "Where the root disk lives: ${COMPLETION-CANDIDATES} (default: local;"
              + " rbd = an RBD image in Ceph, Nova's images_type=rbd).") RootDisk rootDisk,
      @Option(names = "--wait", description = WAIT) boolean wait,
      @Mixin OutputFormat format) {
    CreateServerResponse r = session().clients().servers().createServer(
        CreateServerRequest.newBuilder()
            .setName(name)
            .setImageRef(Names.image(session(), image))
            .setFlavor(Flavor.newBuilder().setVcpus(vcpus).setMemoryMb(ramMb).setRootGb(diskGb))
            .setHost(host == null ? "" : host)
            .setRootDiskKind(rootDisk.kind)
            .build());
    if (!wait) {
      output(format).print(r,
          x -> ServerTables.show(x.getServer()).row("request_id", x.getRequestId()));
      return 0;
    }
    return ServerWaiter.forNewServer(session())
        .awaitAndPrint(r.getServer().getId(), output(format));
  }

  /** Deletes a server; with --wait, until it is gone. */
  @Command(name = "delete", description = {
      "Delete a server (allowed in any state unless locked).",
      "Prints the request id; with --wait, the final state once the server is gone."})
  int delete(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Option(names = "--wait", description = WAIT) boolean wait,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    ServerWaiter waiter = wait ? ServerWaiter.beforeRequest(session(), id) : null;
    var r = session().clients().servers()
        .deleteServer(DeleteServerRequest.newBuilder().setServerId(id).build());
    return wait
        ? waiter.awaitDeletionAndPrint(id, output(format))
        : printRequest(r, r.getRequestId(), format);
  }

  /** Powers a stopped server on. */
  @Command(name = "start", description = "Power a stopped server on.")
  int start(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Option(names = "--wait", description = WAIT) boolean wait,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    return act(id, wait, format,
        s -> s.startServer(StartServerRequest.newBuilder().setServerId(id).build()),
        r -> r.getRequestId());
  }

  /** Stops a server: clean shutdown, then power off after the agent's timeout. */
  @Command(name = "stop", description = "Stop a server: clean shutdown, then power off.")
  int stop(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Option(names = "--wait", description = WAIT) boolean wait,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    return act(id, wait, format,
        s -> s.stopServer(StopServerRequest.newBuilder().setServerId(id).build()),
        r -> r.getRequestId());
  }

  /** Reboots a server; soft (the guest reboots itself) unless --hard, as in Nova. */
  @Command(name = "reboot", description = {
      "Reboot a server: --hard rebuilds the domain; --soft (the default, as in Nova) asks "
          + "the guest, and the API decides whether it is allowed."})
  int reboot(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Option(names = "--hard", description = "Hard reboot.") boolean hard,
      @Option(names = "--soft", description = "Soft reboot (default).") boolean soft,
      @Option(names = "--wait", description = WAIT) boolean wait,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    if (hard && soft) {
      throw CliException.usage("--hard and --soft exclude each other");
    }
    RebootType type = hard ? RebootType.REBOOT_TYPE_HARD : RebootType.REBOOT_TYPE_SOFT;
    return act(id, wait, format,
        s -> s.rebootServer(
            RebootServerRequest.newBuilder().setServerId(id).setType(type).build()),
        r -> r.getRequestId());
  }

  /** Locks a server: only its locker or an admin may then act on it. */
  @Command(name = "lock", description = "Lock a server: only its locker or an admin may "
      + "then act on it.")
  int lock(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Option(names = "--reason", paramLabel = "TEXT", description = "Why it is locked.")
          String reason,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    session().clients().servers().lockServer(LockServerRequest.newBuilder()
        .setServerId(id).setReason(reason == null ? "" : reason).build());
    output(format).printEmpty();
    return 0;
  }

  /** Unlocks a server. */
  @Command(name = "unlock", description = "Unlock a server.")
  int unlock(@Parameters(paramLabel = "SERVER", description = "Server name or id.") String idRef,
      @Mixin OutputFormat format) {
    String id = Names.server(session(), idRef);
    session().clients().servers()
        .unlockServer(UnlockServerRequest.newBuilder().setServerId(id).build());
    output(format).printEmpty();
    return 0;
  }

  /** Sends a task request; prints its request id, or with {@code wait} the final state. */
  private <R extends MessageOrBuilder> int act(String id, boolean wait, OutputFormat format,
      Function<ServersBlockingStub, R> call, Function<R, String> requestId) {
    ServerWaiter waiter = wait ? ServerWaiter.beforeRequest(session(), id) : null;
    R r = call.apply(session().clients().servers());
    return wait ? waiter.awaitAndPrint(id, output(format))
        : printRequest(r, requestId.apply(r), format);
  }

  private <R extends MessageOrBuilder> int printRequest(R response, String requestId,
      OutputFormat format) {
    output(format).print(response, x -> Table.fields().row("request_id", requestId));
    return 0;
  }

  private Session session() {
    return Session.of(spec);
  }

  private Output output(OutputFormat format) {
    return new Output(session().terminal().out(), format);
  }

  /** The root disk kinds, as the CLI spells them. */
  enum RootDisk {
    local(io.stratus.proto.conductor.v1.RootDiskKind.ROOT_DISK_KIND_LOCAL),
    rbd(io.stratus.proto.conductor.v1.RootDiskKind.ROOT_DISK_KIND_RBD);

    final io.stratus.proto.conductor.v1.RootDiskKind kind;

    RootDisk(io.stratus.proto.conductor.v1.RootDiskKind kind) {
      this.kind = kind;
    }
  }
}
