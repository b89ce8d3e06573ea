package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.testkit.CephCluster;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two gateway processes over one Ceph pool, as replicas: either serves the other's images
 * and upload status; while one writes an image the other refuses to (UNAVAILABLE, so the
 * uploader retries); when the writer is SIGKILLed mid-upload, the other takes the upload
 * over once the writer's lease lapses and resumes it from the durable offset to an active
 * image with the right digest, and deleting it leaves nothing in the pool.
 */
class RbdReplicaTakeoverTest {
  private static final long MIB = 1L << 20;
  @TempDir Path dir;

  @Test
  void anUploadCutByAReplicasDeathIsResumedOnTheOtherReplica() throws Exception {
    try (CephCluster ceph = CephCluster.start()) {
      Map<String, String> env = Map.of("STRATUS_GATEWAY_BACKEND", "rbd",
          "STRATUS_GATEWAY_CEPH_CONF", ceph.conf().toString(),
          "STRATUS_GATEWAY_CEPH_POOL", ceph.imagePool());
      GatewayProcess a = new GatewayProcess(dir.resolve("a.log"), env);
      GatewayProcess b = new GatewayProcess(dir.resolve("b.log"), env);
      ManagedChannel toA = a.channel();
      ManagedChannel toB = b.channel();
      try {
        var imagesA = ImagesGrpc.newBlockingStub(toA).withDeadlineAfter(60, TimeUnit.SECONDS);
        var imagesB = ImagesGrpc.newBlockingStub(toB).withDeadlineAfter(180, TimeUnit.SECONDS);
        TestImage content = new TestImage(96 * MIB).data(0, (int) (80 * MIB), 7);
        String id = imagesA.createImage(CreateImageRequest.newBuilder().setName("replicated")
            .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
        List<UploadImageRequest> all = content.messages(id, "up-1", (int) (4 * MIB), true);

        // A takes the upload and 72 MiB (its durable offset is checkpointed in Ceph every
        // 64 MiB); the call stays open, as a slow uploader's would
        UploadCall cut = UploadCall.open(toA, 0);
        all.subList(0, 1 + 18).forEach(cut.out::onNext);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (committed(imagesB, id) < 32 * MIB) {  // B answers for A's upload
          assertTrue(System.nanoTime() < deadline, "nothing became durable");
          Thread.sleep(50);
        }
        assertEquals(ImageStatus.IMAGE_STATUS_SAVING, status(imagesB, id));
        Status refused = resume(toB, all, committed(imagesB, id));
        assertEquals(Status.Code.UNAVAILABLE, refused.getCode(), refused.toString());
        assertTrue(refused.getDescription().contains("another gateway replica"),
            refused.toString());

        a.kill();  // SIGKILL mid-upload
        long killed = System.nanoTime();
        Status outcome;
        while (true) {
          outcome = resume(toB, all, committed(imagesB, id));
          if (outcome.getCode() != Status.Code.UNAVAILABLE) {
            break;
          }
          assertTrue(System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(120),
              "B never took the upload over: " + outcome);
          Thread.sleep(1000);  // as the agent's ResumableUpload backs off
        }
        long tookOver = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        assertTrue(outcome.isOk(), outcome.toString());
        System.out.println("[replicas] rbd upload taken over " + tookOver + " ms after the kill");
        Image active = imagesB.getImage(GetImageRequest.newBuilder().setImageId(id).build())
            .getImage();
        assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
        assertEquals(content.contentDigest(), active.getContentDigest());

        imagesB.deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
        assertFalse(cli(ceph, "rbd", "ls", ceph.imagePool()).contains(id), "rbd images left");
        assertFalse(cli(ceph, "rados", "-p", ceph.imagePool(), "-N", "stratus", "ls")
            .contains(id), "record or lease objects left");
      } finally {
        toA.shutdownNow();
        toB.shutdownNow();
        a.close();
        b.close();
      }
    }
  }

  private static long committed(ImagesGrpc.ImagesBlockingStub images, String id) {
    return images.getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(id)
        .setUploadId("up-1").build()).getCommittedOffset();
  }

  private static ImageStatus status(ImagesGrpc.ImagesBlockingStub images, String id) {
    return images.getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage()
        .getStatus();
  }

  /** Sends the rest of upload up-1 from {@code offset} through {@code channel}; its status. */
  private static Status resume(ManagedChannel channel, List<UploadImageRequest> all,
      long offset) throws Exception {
    UploadCall call = UploadCall.open(channel, 0);
    TestImage.resumedFrom(all, offset).forEach(call.out::onNext);
    call.out.onCompleted();
    try {
      call.result.get(180, TimeUnit.SECONDS);
      return Status.OK;
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    }
  }

  private static String cli(CephCluster ceph, String tool, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(tool, "-c", ceph.conf().toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, cmd + ": " + out);
    return out;
  }
}
