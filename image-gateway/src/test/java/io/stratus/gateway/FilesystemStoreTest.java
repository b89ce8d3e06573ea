package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.Image;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.image.v1.ActivateEmptyImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The filesystem store: the contract kit, plus sparseness, atomic publish and resume. */
class FilesystemStoreTest extends ImageStoreContract {
  private Path dir;

  @Override
  protected ImageBackend openBackend() throws Exception {
    dir = Files.createTempDirectory("stratus-fs-store-");
    return new FilesystemBackend(dir, Clock.systemUTC());
  }

  @Override
  protected void closeService() throws Exception {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Override
  protected String expectedBackend() {
    return "filesystem";
  }

  /** Bytes really allocated on disk for a file (st_blocks × 512), as du reports them. */
  private static long allocated(Path file) throws Exception {
    Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
    String[] out = new String(p.getInputStream().readAllBytes()).trim().split(" ");
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    return Long.parseLong(out[0]) * Long.parseLong(out[1]);
  }

  private List<Path> files(String sub) throws Exception {
    try (Stream<Path> s = Files.list(dir.resolve(sub))) {
      return s.toList();
    }
  }

  /** A gateway of its own (own directory and settings), closed and removed with it. */
  private record OwnGateway(ImageGateway gateway, ManagedChannel channel, Path dir)
      implements AutoCloseable {
    static OwnGateway start(String prefix, String... settings) throws Exception {
      Path own = Files.createTempDirectory(prefix);
      Map<String, String> config = new java.util.HashMap<>(Map.of("fs.dir", own.toString(),
          "tls.insecure", "true"));
      for (int i = 0; i < settings.length; i += 2) {
        config.put(settings[i], settings[i + 1]);
      }
      String name = InProcessServerBuilder.generateName();
      ImageGateway gw = ImageGateway.start(GatewayConfig.fromMap(config),
          InProcessServerBuilder.forName(name), TransportSecurity.plaintext("test gateway"),
          new FilesystemBackend(own, Clock.systemUTC()));
      return new OwnGateway(gw, InProcessChannelBuilder.forName(name)
          .maxInboundMessageSize(8 << 20).build(), own);
    }

    @Override
    public void close() throws Exception {
      channel.shutdownNow();
      gateway.close();
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** The image bytes the gateway moves are counted for Prometheus, zeros aside. */
  @Test
  void uploadedAndDownloadedDataBytesAreCounted() throws Exception {
    var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    io.micrometer.core.instrument.Metrics.addRegistry(registry);
    try (OwnGateway own = OwnGateway.start("stratus-fs-meters-")) {
      double upBefore = io.stratus.gateway.upload.DataMeters.UPLOADED.count();
      double downBefore = io.stratus.gateway.upload.DataMeters.DOWNLOADED.count();
      String id = ImagesGrpc.newBlockingStub(own.channel()).createImage(CreateImageRequest
          .newBuilder().setName("counted").setOwner("project-a").build()).getImage().getId();
      try (var up = io.stratus.support.imageio.ImageUploader.start(own.channel(), id, "meters",
          8L << 20, 0)) {
        up.data(0, java.nio.ByteBuffer.wrap(new byte[1 << 20]).put(0, (byte) 1));
        up.zero(1 << 20, 7L << 20);
        up.finish(java.time.Duration.ofSeconds(30));
      }
      assertEquals(1 << 20, io.stratus.gateway.upload.DataMeters.UPLOADED.count() - upBefore,
          "the data extent, not the zeros");
      long dataDown = 0;
      for (var it = io.stratus.support.imageio.ImageDownloads.open(own.channel(), id);
          it.hasNext(); ) {
        var r = it.next();
        if (r.hasData()) {
          dataDown += r.getData().getData().size();
        }
      }
      assertEquals(dataDown, io.stratus.gateway.upload.DataMeters.DOWNLOADED.count() - downBefore);
      assertTrue(dataDown >= 1 << 20, "the download sent the data: " + dataDown);
      assertEquals(io.stratus.gateway.upload.DataMeters.UPLOADED.count(),
          registry.get("stratus.gateway.data").tag("direction", "upload").counter().count(),
          "recorded into the global registry a service's registry joins");
    } finally {
      io.micrometer.core.instrument.Metrics.removeRegistry(registry);
    }
  }

  @Test
  void aQueuedImageWithNoUploadExpiresAndAnActiveOneStays() throws Exception {
    try (OwnGateway own = OwnGateway.start("stratus-fs-expire-", "queued.expire", "PT2S")) {
      ManagedChannel ch = own.channel();
      var stub = ImagesGrpc.newBlockingStub(ch);
      String abandoned = stub.createImage(CreateImageRequest.newBuilder().setName("abandoned")
          .setOwner("project-a").build()).getImage().getId();
      String kept = stub.createImage(CreateImageRequest.newBuilder().setName("kept")
          .setOwner("project-a").build()).getImage().getId();
      stub.activateEmptyImage(ActivateEmptyImageRequest.newBuilder().setImageId(kept).build());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      boolean gone = false;
      while (!gone && System.nanoTime() < deadline) {
        try {
          stub.getImage(GetImageRequest.newBuilder().setImageId(abandoned).build());
          Thread.sleep(200);
        } catch (StatusRuntimeException e) {
          assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
          gone = true;
        }
      }
      assertTrue(gone, "the queued image never expired");
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, stub.getImage(GetImageRequest.newBuilder()
          .setImageId(kept).build()).getImage().getStatus());
    }
  }

  @Test
  void anUploaderThatGoesSilentLosesItsSlotAfterTheIdleLimit() throws Exception {
    try (OwnGateway own = OwnGateway.start("stratus-fs-idle-", "uploads.max", "1",
        "upload.idle", "700ms")) {
      ManagedChannel ch = own.channel();
      var stub = ImagesGrpc.newBlockingStub(ch);
      String id = stub.createImage(CreateImageRequest.newBuilder().setName("idle")
          .setOwner("project-a").build()).getImage().getId();
      TestImage content = new TestImage(1 << 20).data(0, 4096, 41);
      List<UploadImageRequest> messages = content.messages(id, "u", CHUNK, true);

      // A header, then silence: the only slot is taken ...
      UploadCall silent = UploadCall.open(ch, 30);
      silent.out.onNext(messages.get(0));
      silent.out.onNext(messages.get(1));
      long started = System.nanoTime();
      var e = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> silent.result.get(30, TimeUnit.SECONDS));
      double waited = (System.nanoTime() - started) / 1e9;
      var status = io.grpc.Status.fromThrowable(e.getCause());
      assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, status.getCode());
      assertTrue(status.getDescription().startsWith("upload.idle: no upload message for 700 ms"),
          status.getDescription());
      assertTrue(waited >= 0.6 && waited < 10, "ended after " + waited + " s");

      // ... and free again: the same upload id resumes and lands.
      UploadCall next = UploadCall.open(ch, 30);
      messages.forEach(next.out::onNext);
      next.out.onCompleted();
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
          next.result.get(30, TimeUnit.SECONDS).getImage().getStatus());
    }
  }

  @Test
  void oneProjectCannotTakeEveryUploadSlot() throws Exception {
    try (OwnGateway own = OwnGateway.start("stratus-fs-slots-", "uploads.max", "4",
        "uploads.max.per.project", "1")) {
      ManagedChannel ch = own.channel();
      var stub = ImagesGrpc.newBlockingStub(ch);
      java.util.function.Function<String, List<UploadImageRequest>> upload = owner -> {
        String id = stub.createImage(CreateImageRequest.newBuilder().setName("slot-" + owner)
            .setOwner(owner).build()).getImage().getId();
        return new TestImage(1 << 20).data(0, 4096, 43).messages(id, "u", CHUNK, true);
      };
      List<UploadImageRequest> a1 = upload.apply("project-a");
      List<UploadImageRequest> a2 = upload.apply("project-a");
      List<UploadImageRequest> b1 = upload.apply("project-b");

      UploadCall holding = UploadCall.open(ch, 30);
      holding.out.onNext(a1.get(0));
      holding.out.onNext(a1.get(1));
      // the slot is held once the header is taken (the image is then saving)
      String holdingId = a1.get(0).getHeader().getImageId();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (stub.getImage(GetImageRequest.newBuilder().setImageId(holdingId).build()).getImage()
          .getStatus() != ImageStatus.IMAGE_STATUS_SAVING && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      UploadCall second = UploadCall.open(ch, 30);
      a2.forEach(second.out::onNext);
      second.out.onCompleted();
      var e = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> second.result.get(30, TimeUnit.SECONDS));
      var status = io.grpc.Status.fromThrowable(e.getCause());
      assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, status.getCode());
      assertEquals("uploads.max.per.project: project 'project-a' has 1 uploads in progress (the"
          + " limit uploads.max.per.project = 1); retry later", status.getDescription());

      UploadCall other = UploadCall.open(ch, 30);
      b1.forEach(other.out::onNext);
      other.out.onCompleted();
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
          other.result.get(30, TimeUnit.SECONDS).getImage().getStatus(),
          "another project's upload is not held up");

      a1.subList(2, a1.size()).forEach(holding.out::onNext);
      holding.out.onCompleted();
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
          holding.result.get(30, TimeUnit.SECONDS).getImage().getStatus());
    }
  }

  @Test
  void anUploadLargerThanTheStoresFreeSpaceIsRefusedBeforeAnyByte() throws Exception {
    Image image = create("too-big-for-the-disk");
    long free = Files.getFileStore(dir).getUsableSpace();
    long size = free + (64L << 30);
    UploadCall call = UploadCall.open(channel, 30);
    call.out.onNext(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setImageId(image.getId()).setUploadId("big").setVirtualSize(size)
        .setAllocation(io.stratus.proto.image.v1.Allocation.newBuilder().addRanges(0)
            .addRanges(size))).build());
    call.out.onCompleted();
    var e = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> call.result.get(30, TimeUnit.SECONDS));
    var status = io.grpc.Status.fromThrowable(e.getCause());
    assertEquals(io.grpc.Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertTrue(status.getDescription().startsWith("header.allocation: the upload needs " + size
        + " bytes, the image store has "), status.getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    assertTrue(files("partial").isEmpty(), "nothing was written");
  }

  @Test
  void aHalfSparseImageTakesHalfItsSizeOnDisk() throws Exception {
    Image image = create("half-sparse");
    TestImage content = TestImage.halfSparse(64L << 20, 1 << 20, 7);
    upload(content.messages(image.getId(), "u", CHUNK, true));
    Path raw = dir.resolve("data").resolve(image.getId() + ".raw");
    assertEquals(64L << 20, Files.size(raw));
    long used = allocated(raw);
    assertTrue(used <= 0.52 * (64L << 20), "allocated " + used + " bytes for a 64 MiB half-sparse image");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long[] got = downloadInto(image.getId(), out);
    assertEquals(32L << 20, got[1], "the holes come back as zero extents");
  }

  @Test
  void nothingIsVisibleBeforeTheCommitAndNothingIsLeftAfterDelete() throws Exception {
    Image image = create("atomic");
    TestImage content = new TestImage(4L << 20).data(0, 2 << 20, 31);
    List<UploadImageRequest> messages = content.messages(image.getId(), "u", CHUNK, true);
    var pending = send(messages.subList(0, 2), false);  // header + one extent, then give up
    try {
      pending.get(30, TimeUnit.SECONDS);
    } catch (Exception expected) {
      // the call was cancelled by the client
    }
    assertTrue(files("data").stream().noneMatch(p -> p.getFileName().toString().startsWith(image.getId())),
        "no visible content before a commit");
    // The client's cancel reaches the gateway asynchronously: the image is queued again
    // once the gateway has kept the durable prefix (an fsync), not when the client returns.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (get(image.getId()).getStatus() != io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_QUEUED) {
      assertTrue(System.nanoTime() < deadline, "the abandoned upload never re-queued the image");
      Thread.sleep(10);
    }
    upload(content.messages(image.getId(), "u2", CHUNK, true));
    assertTrue(Files.exists(dir.resolve("data").resolve(image.getId() + ".raw")));
    images().deleteImage(io.stratus.proto.image.v1.DeleteImageRequest.newBuilder().setImageId(image.getId()).build());
    for (String sub : List.of("data", "partial", "records")) {
      assertTrue(files(sub).stream().noneMatch(p -> p.getFileName().toString().contains(image.getId())),
          sub + " still holds files of the deleted image: " + files(sub));
    }
  }

  @Test
  void anInterruptedUploadResumesFromItsDurableOffset() throws Exception {
    Image image = create("resume");
    // 160 MiB of data so at least two durable checkpoints (every 64 MiB) pass.
    TestImage content = new TestImage(200L << 20).data(0, 160 << 20, 41);
    List<UploadImageRequest> all = content.messages(image.getId(), "up-1", 4 << 20, true);
    // Header + 144 MiB; the client dies once the gateway has made 128 MiB durable.
    var first = sendThenDie(all.subList(0, 1 + 36), image.getId(), "up-1", 128L << 20);
    try {
      first.get(60, TimeUnit.SECONDS);
    } catch (Exception expected) {
      // cancelled
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long committed = 0;
    while (System.nanoTime() < deadline
        && get(image.getId()).getStatus() != ImageStatus.IMAGE_STATUS_QUEUED) {
      Thread.sleep(20);
    }
    committed = images().getUploadStatus(GetUploadStatusRequest.newBuilder()
        .setImageId(image.getId()).setUploadId("up-1").build()).getCommittedOffset();
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    assertTrue(committed >= 128L << 20 && committed <= 144L << 20, "committed " + committed);

    List<UploadImageRequest> rest = new ArrayList<>();
    rest.add(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setImageId(image.getId()).setUploadId("up-1").setVirtualSize(content.virtualSize)
        .setResumeOffset(committed)).build());
    for (UploadImageRequest m : all.subList(1, all.size())) {
      if (!m.hasData() || m.getData().getOffset() >= committed) {
        rest.add(m);
      }
    }
    var done = upload(TestImage.retrailed(rest));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, done.getImage().getStatus());
    assertEquals(content.contentDigest(), done.getImage().getContentDigest(),
        "the content digest covers the resumed prefix too");
    assertEquals(content.sha512(), awaitChecksums(image.getId()).getOsHashValue());
    assertTrue(files("partial").stream().noneMatch(p -> p.getFileName().toString().contains(image.getId())));
  }
}
