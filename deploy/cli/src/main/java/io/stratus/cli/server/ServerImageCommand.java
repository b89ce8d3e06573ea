package io.stratus.cli.server;

import io.stratus.cli.Names;
import io.grpc.StatusRuntimeException;
import io.stratus.cli.ApiErrors;
import io.stratus.cli.CliException;
import io.stratus.cli.Session;
import io.stratus.cli.image.ImageTables;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.ProgressBar;
import io.stratus.cli.output.States;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateImageResponse;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code stratus server image …}: snapshots of a server (Nova's createImage). */
@Command(name = "image", description = "Snapshot a server into an image.")
public final class ServerImageCommand {
  @Spec
  private CommandSpec spec;

  /**
   * Snapshots a server. With --wait, draws the upload's progress on stderr until the task
   * ends, then reads the image from the image-gateway: exit 0 when it is active, 1 with the
   * server's fault (or the image's status) otherwise.
   */
  @Command(name = "create", description = {
      "Snapshot a server into a new image (Nova's createImage).",
      "Prints the image and request ids; with --wait, shows the upload's progress on stderr "
          + "and prints the image once the snapshot ends (exit 1 unless it is active)."})
  int create(
      @Parameters(paramLabel = "SERVER", description = "Server name or id.") String serverIdRef,
      @Option(names = "--name", required = true, paramLabel = "NAME",
          description = "Image name.") String name,
      @Option(names = "--property", paramLabel = "KEY=VALUE",
          description = "Image property (repeatable).") Map<String, String> properties,
      @Option(names = "--wait", description = "Follow the snapshot until it ends.")
          boolean wait,
      @Mixin OutputFormat format) {
    String serverId = Names.server(Session.of(spec), serverIdRef);
    Session session = Session.of(spec);
    Output output = new Output(session.terminal().out(), format);
    ServerWaiter waiter = wait ? ServerWaiter.beforeRequest(session, serverId) : null;
    CreateImageResponse r = session.clients().servers().createImage(
        CreateImageRequest.newBuilder()
            .setServerId(serverId)
            .setName(name)
            .putAllMetadata(properties == null ? Map.of() : properties)
            .build());
    if (!wait) {
      output.print(r, x -> Table.fields()
          .row("image_id", x.getImageId())
          .row("request_id", x.getRequestId()));
      return 0;
    }
    Fault fault = waiter.newFault(awaitWithProgress(session, waiter, serverId, r));
    Image image;
    try {
      image = session.clients().images()
          .getImage(GetImageRequest.newBuilder().setImageId(r.getImageId()).build())
          .getImage();
    } catch (StatusRuntimeException e) {
      throw fault != null ? CliException.failed(ApiErrors.describe(fault)) : e;
    }
    if (image.getStatus() != ImageStatus.IMAGE_STATUS_ACTIVE) {
      throw CliException.failed(fault != null ? ApiErrors.describe(fault)
          : "image " + image.getId() + " is " + States.image(image.getStatus())
              + " after the snapshot ended");
    }
    output.print(image, ImageTables::show);
    return 0;
  }

  private static Server awaitWithProgress(Session session, ServerWaiter waiter,
      String serverId, CreateImageResponse r) {
    ProgressBar bar =
        new ProgressBar(session.terminal().err(), session.terminal().errIsTerminal());
    try {
      return waiter.awaitTask(serverId, (task, p) -> {
        if (p.getRequestId().isEmpty() || p.getRequestId().equals(r.getRequestId())) {
          bar.update(States.task(task), p.getBytesDone(), p.getBytesTotal());
        }
      });
    } finally {
      bar.finish();
    }
  }
}
