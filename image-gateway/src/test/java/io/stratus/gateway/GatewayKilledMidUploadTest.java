package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gateway process killed (SIGKILL) in the middle of an upload: after a restart on the
 * same store the image is queued again with nothing visible, the durable prefix lets the
 * same upload resume to an active image with the right digests, and deleting leaves no
 * file behind.
 */
class GatewayKilledMidUploadTest {
  @TempDir Path dir;

  private GatewayProcess start(String log) throws Exception {
    return new GatewayProcess(dir.resolve(log),
        Map.of("STRATUS_GATEWAY_FS_DIR", dir.resolve("store").toString()));
  }

  private List<Path> storeFiles() throws Exception {
    try (Stream<Path> s = Files.walk(dir.resolve("store"))) {
      return s.filter(Files::isRegularFile).toList();
    }
  }

  @Test
  void aKilledGatewayLeavesTheImageQueuedAndTheUploadResumable() throws Exception {
    GatewayProcess first = start("first.log");
    ManagedChannel channel = first.channel();
    TestImage content = new TestImage(200L << 20).data(0, 160 << 20, 77);
    String id;
    List<UploadImageRequest> all;
    try {
      var images = ImagesGrpc.newBlockingStub(channel);
      id = images.createImage(CreateImageRequest.newBuilder().setName("killed")
          .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
      all = content.messages(id, "up-1", 4 << 20, true);
      UploadCall interrupted = UploadCall.open(channel, 0);
      all.subList(0, 1 + 36).forEach(interrupted.out::onNext);  // header + 144 MiB
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (images.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
          .setUploadId("up-1").build()).getCommittedOffset() < (128L << 20)) {
        assertTrue(System.nanoTime() < deadline, "nothing became durable");
        Thread.sleep(20);
      }
    } finally {
      first.kill();  // SIGKILL mid-upload
      channel.shutdownNow();
    }
    assertTrue(storeFiles().stream().noneMatch(p -> p.startsWith(dir.resolve("store").resolve("data"))),
        "no visible content after the kill: " + storeFiles());

    GatewayProcess second = start("second.log");
    channel = second.channel();
    try {
      var images = ImagesGrpc.newBlockingStub(channel);
      assertEquals(ImageStatus.IMAGE_STATUS_QUEUED,
          images.getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage().getStatus());
      long committed = images.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
          .setUploadId("up-1").build()).getCommittedOffset();
      assertTrue(committed >= 128L << 20, "committed " + committed);

      UploadCall resumed = UploadCall.open(channel, 0);
      TestImage.resumedFrom(all, committed).forEach(resumed.out::onNext);
      resumed.out.onCompleted();
      var active = resumed.result.get(120, TimeUnit.SECONDS).getImage();
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
      assertEquals(content.contentDigest(), active.getContentDigest());

      images.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
      assertEquals(List.of(), storeFiles(), "nothing left behind");
    } finally {
      channel.shutdownNow();
      second.close();
    }
  }
}
