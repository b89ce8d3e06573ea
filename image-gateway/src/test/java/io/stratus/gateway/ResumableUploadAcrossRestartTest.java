package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.support.imageio.ResumableUpload;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The uploader's side of a gateway crash (issue 13), with real processes: the shared
 * {@link ResumableUpload} (used by the agent and the CLI) is uploading when the gateway is
 * killed with SIGKILL and started again on the same port and store; the upload resumes
 * from the committed offset the new process reports, and the image ends active with the
 * content digest of the whole content. Bytes before the offset are not sent again.
 */
class ResumableUploadAcrossRestartTest {
  @TempDir Path dir;

  private Process start(Path log, int port) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), "io.stratus.gateway.GatewayMain")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("STRATUS_GATEWAY_FS_DIR", dir.resolve("store").toString());
    pb.environment().put("STRATUS_GATEWAY_PORT", Integer.toString(port));
    pb.environment().put("STRATUS_GATEWAY_TLS_INSECURE", "true");  // TLS is not the subject
    Process p = pb.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!(Files.exists(log) && Files.readString(log).contains("listening on"))) {
      assertTrue(p.isAlive() && System.nanoTime() < deadline,
          Files.exists(log) ? Files.readString(log) : "gateway did not start");
      Thread.sleep(50);
    }
    return p;
  }

  @Test
  void anUploadResumesFromTheCommittedOffsetAfterTheGatewayIsKilledAndRestarted()
      throws Exception {
    int port;
    try (var s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Process first = start(dir.resolve("first.log"), port);
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
        .maxInboundMessageSize(8 << 20).build();
    Process second = null;
    try {
      var images = ImagesGrpc.newBlockingStub(channel);
      TestImage content = new TestImage(256L << 20).data(0, 224 << 20, 5);
      String id = images.createImage(CreateImageRequest.newBuilder().setName("resumed")
          .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
      AtomicLong resumedBytes = new AtomicLong();
      AtomicLong resumedFrom = new AtomicLong(-1);
      byte[] all = content.runs.get(0).bytes();
      int chunk = 4 << 20;
      CompletableFuture<ResumableUpload.Result> upload = CompletableFuture.supplyAsync(() -> {
        try {
          return ResumableUpload.run(channel, id, "up-r", content.virtualSize, false, null,
              (up, from) -> {
                if (from > 0) {
                  resumedFrom.set(from);
                }
                for (long off = 0; off < all.length; off += chunk) {
                  if (off < from) {
                    continue;
                  }
                  up.data(off, ByteBuffer.wrap(all, (int) off, chunk));
                  if (from > 0) {
                    resumedBytes.addAndGet(chunk);
                  }
                  if (from == 0 && off >= 96L << 20) {
                    Thread.sleep(50);  // slow enough that the kill lands mid-upload
                  }
                }
                return "";
              }, new ResumableUpload.Retry(6, Duration.ofMillis(500), Duration.ofSeconds(5)),
              Duration.ofMinutes(2));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (images.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
          .setUploadId("up-r").build()).getCommittedOffset() < (64L << 20)) {
        assertTrue(System.nanoTime() < deadline, "nothing became durable");
        Thread.sleep(20);
      }
      first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);  // SIGKILL mid-upload
      second = start(dir.resolve("second.log"), port);

      ResumableUpload.Result r = upload.get(120, TimeUnit.SECONDS);
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, r.response().getImage().getStatus());
      assertEquals(content.contentDigest(), r.response().getImage().getContentDigest());
      assertEquals(1, r.resumes());
      assertTrue(resumedFrom.get() >= 64L << 20, "resumed from " + resumedFrom.get());
      assertEquals(content.dataBytes() - resumedFrom.get(), resumedBytes.get(),
          "the resumed call sent only what lies past the committed offset");
    } finally {
      channel.shutdownNow();
      first.destroyForcibly();
      if (second != null) {
        second.destroy();
        second.waitFor(20, TimeUnit.SECONDS);
      }
    }
  }
}
