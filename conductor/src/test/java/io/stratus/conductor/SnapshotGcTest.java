package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Garbage collection of what a crash between two steps of a snapshot leaves: an image
 * record queued by a conductor that died before the state swap is deleted once older than
 * gc.unfinished.after (PT15M here); recent ones and those a running task fills are kept.
 */
class SnapshotGcTest extends ConductorTest {

  private static String queuedSnapshotImage(String name) {
    return ImagesGrpc.newBlockingStub(h.gatewayChannel()).withDeadlineAfter(10, TimeUnit.SECONDS)
        .createImage(io.stratus.proto.image.v1.CreateImageRequest.newBuilder().setName(name)
            .setOwner("project-a").setDiskFormat("raw").setContainerFormat("bare")
            .putProperties("image_type", "snapshot").build())
        .getImage().getId();
  }

  @Test
  void anOldQueuedSnapshotImageNoTaskFillsIsDeletedAndNothingElse() throws Exception {
    String orphan = queuedSnapshotImage("left-by-a-crash");
    h.gateway.backdate(orphan, Duration.ofHours(1));
    String recent = queuedSnapshotImage("being-accepted-now");
    String notASnapshot = ImagesGrpc.newBlockingStub(h.gatewayChannel())
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .createImage(io.stratus.proto.image.v1.CreateImageRequest.newBuilder().setName("upload")
            .setOwner("project-a").setDiskFormat("raw").setContainerFormat("bare").build())
        .getImage().getId();
    h.gateway.backdate(notASnapshot, Duration.ofHours(1));

    String id = h.bootActive("gc-in-flight");
    var gate = h.agent.blockAt("Snapshot", 2);
    String inFlight;
    try {
      inFlight = h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder().setServerId(id)
          .setName("running").build()).getImageId();
      assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
      h.gateway.backdate(inFlight, Duration.ofHours(1));  // a snapshot that runs for an hour

      assertTrue(h.conductor.snapshotGc().collectOnce() >= 1);
      assertTrue(h.gateway.wasDeleted(orphan), "the orphan is collected");
      assertFalse(h.gateway.wasDeleted(recent), "a recent record may be a request in progress");
      assertFalse(h.gateway.wasDeleted(notASnapshot), "only createImage's images are collected");
      assertFalse(h.gateway.wasDeleted(inFlight), "a running snapshot's image is kept");
    } finally {
      gate.release();
    }
    h.awaitIdle(id);
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE,
        h.gateway.image(inFlight).orElseThrow().getStatus());
  }
}
