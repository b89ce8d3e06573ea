package io.stratus.cli.image;

import io.stratus.cli.Names;
import io.stratus.cli.CancellableStream;
import io.stratus.cli.Session;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.ProgressBar;
import io.stratus.cli.output.Table;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.ListImagesResponse;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code stratus image …}: the image-gateway's {@code Images} API. */
@Command(name = "image",
    description = "Images (Glance's model): list, show, upload, download, delete.")
public final class ImageCommand {
  @Spec
  private CommandSpec spec;

  /** Lists the images visible to the caller, every page. */
  @Command(name = "list", description = "List images.")
  int list(
      @Option(names = "--owner", paramLabel = "PROJECT", description = "Only this owner's.")
          String owner,
      @Option(names = "--status", paramLabel = "STATUS", converter = ImageStatusConverter.class,
          completionCandidates = ImageStatusConverter.Names.class,
          description = "Only images in this status: ${COMPLETION-CANDIDATES}.")
          ImageStatus status,
      @Mixin OutputFormat format) {
    List<Image> images = new ArrayList<>();
    String page = "";
    do {
      ListImagesResponse r = session().clients().images().listImages(
          ListImagesRequest.newBuilder()
              .setPageToken(page)
              .setOwner(owner == null ? "" : owner)
              .setStatus(status == null ? ImageStatus.IMAGE_STATUS_UNSPECIFIED : status)
              .build());
      images.addAll(r.getImagesList());
      page = r.getNextPageToken();
    } while (!page.isEmpty());
    output(format).printList(images, ImageTables::list);
    return 0;
  }

  /** Shows one image record. */
  @Command(name = "show", description = "Show one image.")
  int show(@Parameters(paramLabel = "IMAGE", description = "Image name or id.") String idRef,
      @Mixin OutputFormat format) {
    String id = Names.image(session(), idRef);
    Image image = session().clients().images()
        .getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage();
    output(format).print(image, ImageTables::show);
    return 0;
  }

  /** Downloads an active image to a sparse raw file and verifies its content digest. */
  @Command(name = "download", description = {
      "Download an active image's bytes to a raw file: zero extents stay holes (sparse), every "
          + "extent's crc32c and the image's content digest are checked, progress goes to stderr.",
      "The file appears only once verified (FILE.part meanwhile)."})
  int download(@Parameters(paramLabel = "IMAGE", description = "Image name or id.") String idRef,
      @Option(names = "--file", required = true, paramLabel = "PATH",
          description = "File to write (replaced if it exists).") Path file,
      @Mixin OutputFormat format) throws IOException {
    String id = Names.image(session(), idRef);
    Session session = session();
    ProgressBar bar =
        new ProgressBar(session.terminal().err(), session.terminal().errIsTerminal());
    DownloadImageRequest request = DownloadImageRequest.newBuilder().setImageId(id).build();
    SparseDownload.Result result;
    try (CancellableStream<DownloadImageResponse> stream = CancellableStream.open(
        () -> session.clients().imageStream().downloadImage(request))) {
      result = SparseDownload.write(stream, file, bar);
    } finally {
      bar.finish();
    }
    output(format).print(result.image(), image -> Table.fields()
        .row("file", file)
        .row("image", image.getId())
        .row("bytes", result.bytes())
        .row("content_digest", result.contentDigest() + (result.verified() ? " (verified)"
            : " (not verified: the image has no content digest)")));
    return 0;
  }

  /** Creates an image and uploads a raw file into it (holes are not sent). */
  @Command(name = "upload", description = {
      "Create an image and upload a raw file into it: holes and all-zero blocks travel as zero "
          + "extents (never as bytes), every extent is checked by the gateway against its "
          + "crc32c, progress goes to stderr. md5 and sha512 follow in the background."})
  int upload(
      @Option(names = "--name", required = true, paramLabel = "NAME", description = "Image name.")
          String name,
      @Option(names = "--file", required = true, paramLabel = "PATH", description = "Raw file.")
          Path file,
      @Option(names = "--owner", paramLabel = "PROJECT",
          description = "Owning project (default: none).") String owner,
      @Option(names = "--property", paramLabel = "KEY=VALUE",
          description = "An image property, e.g. hw_qemu_guest_agent=yes (repeatable).")
          Map<String, String> properties,
      @Mixin OutputFormat format) throws IOException, InterruptedException {
    Session session = session();
    Image created = session.clients().images().createImage(
        io.stratus.proto.image.v1.CreateImageRequest.newBuilder().setName(name)
            .setDiskFormat("raw").setContainerFormat("bare")
            .setOwner(owner == null ? "" : owner)
            .putAllProperties(properties == null ? Map.of() : properties).build()).getImage();
    ProgressBar bar =
        new ProgressBar(session.terminal().err(), session.terminal().errIsTerminal());
    try {
      Image active = SparseUpload.send(session.clients().imageUploads(), created.getId(), file, bar)
          .getImage();
      output(format).print(active, ImageTables::show);
    } finally {
      bar.finish();
    }
    return 0;
  }

  /**
   * Deletes an image and its bytes. The image of a volume-backed snapshot is deleted
   * through the conductor instead (the gateway refuses it), which also deletes its volume
   * snapshots or says which volume still depends on them.
   */
  @Command(name = "delete", description = "Delete an image and its bytes (a volume-backed"
      + " snapshot: with its volume snapshots).")
  int delete(@Parameters(paramLabel = "IMAGE", description = "Image name or id.") String idRef,
      @Mixin OutputFormat format) {
    String id = Names.image(session(), idRef);
    try {
      session().clients().images()
          .deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
    } catch (StatusRuntimeException e) {
      String why = e.getStatus().getDescription();
      if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION || why == null
          || !why.contains("Servers.DeleteSnapshotImage")) {
        throw e;
      }
      session().clients().servers().deleteSnapshotImage(
          DeleteSnapshotImageRequest.newBuilder().setImageId(id).build());
    }
    output(format).printEmpty();
    return 0;
  }

  private Session session() {
    return Session.of(spec);
  }

  private Output output(OutputFormat format) {
    return new Output(session().terminal().out(), format);
  }
}
