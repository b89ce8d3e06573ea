package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

  private Process start(Path log) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), "io.stratus.gateway.GatewayMain")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("STRATUS_GATEWAY_FS_DIR", dir.resolve("store").toString());
    pb.environment().put("STRATUS_GATEWAY_PORT", "0");
    // this test is about the gateway's memory and restarts, not TLS (TransportSecurityTest)
    pb.environment().put("STRATUS_GATEWAY_TLS_INSECURE", "true");
    return pb.start();
  }

  private static int port(Path log, Process p) throws Exception {
    Pattern listening = Pattern.compile("listening on [^:]+:(\\d+)");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        Matcher m = listening.matcher(Files.readString(log));
        if (m.find()) {
          return Integer.parseInt(m.group(1));
        }
      }
      assertTrue(p.isAlive(), Files.exists(log) ? Files.readString(log) : "gateway exited");
      Thread.sleep(50);
    }
    throw new AssertionError("gateway did not start");
  }

  private List<Path> storeFiles() throws Exception {
    try (Stream<Path> s = Files.walk(dir.resolve("store"))) {
      return s.filter(Files::isRegularFile).toList();
    }
  }

  @Test
  void aKilledGatewayLeavesTheImageQueuedAndTheUploadResumable() throws Exception {
    Process first = start(dir.resolve("first.log"));
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1",
        port(dir.resolve("first.log"), first)).usePlaintext().maxInboundMessageSize(8 << 20).build();
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
      first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);  // SIGKILL mid-upload
      channel.shutdownNow();
    }
    assertTrue(storeFiles().stream().noneMatch(p -> p.startsWith(dir.resolve("store").resolve("data"))),
        "no visible content after the kill: " + storeFiles());

    Process second = start(dir.resolve("second.log"));
    channel = NettyChannelBuilder.forAddress("127.0.0.1", port(dir.resolve("second.log"), second))
        .usePlaintext().maxInboundMessageSize(8 << 20).build();
    try {
      var images = ImagesGrpc.newBlockingStub(channel);
      assertEquals(ImageStatus.IMAGE_STATUS_QUEUED,
          images.getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage().getStatus());
      long committed = images.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
          .setUploadId("up-1").build()).getCommittedOffset();
      assertTrue(committed >= 128L << 20, "committed " + committed);

      List<UploadImageRequest> rest = new ArrayList<>();
      rest.add(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder().setImageId(id)
          .setUploadId("up-1").setVirtualSize(content.virtualSize).setResumeOffset(committed)).build());
      for (UploadImageRequest m : all.subList(1, all.size())) {
        if (!m.hasData() || m.getData().getOffset() >= committed) {
          rest.add(m);
        }
      }
      UploadCall resumed = UploadCall.open(channel, 0);
      TestImage.retrailed(rest).forEach(resumed.out::onNext);
      resumed.out.onCompleted();
      var active = resumed.result.get(120, TimeUnit.SECONDS).getImage();
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
      assertEquals(content.contentDigest(), active.getContentDigest());

      images.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
      assertEquals(List.of(), storeFiles(), "nothing left behind");
    } finally {
      channel.shutdownNow();
      second.destroy();
      second.waitFor(20, TimeUnit.SECONDS);
    }
  }
}
