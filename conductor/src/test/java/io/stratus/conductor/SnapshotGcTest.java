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
    String orphan = h.gateway.createdAgo(Duration.ofHours(1),
        () -> queuedSnapshotImage("left-by-a-crash"));
    String recent = queuedSnapshotImage("being-accepted-now");
    String notASnapshot = h.gateway.createdAgo(Duration.ofHours(1), () -> ImagesGrpc
        .newBlockingStub(h.gatewayChannel()).withDeadlineAfter(10, TimeUnit.SECONDS)
        .createImage(io.stratus.proto.image.v1.CreateImageRequest.newBuilder().setName("upload")
            .setOwner("project-a").setDiskFormat("raw").setContainerFormat("bare").build())
        .getImage().getId());

    String id = h.bootActive("gc-in-flight");
    var gate = h.agent.blockAt("Snapshot", 2);
    String inFlight;
    try {
      // a snapshot that runs for an hour
      inFlight = h.gateway.createdAgo(Duration.ofHours(1), () -> h.servers(MEMBER_A)
          .createImage(CreateImageRequest.newBuilder().setServerId(id).setName("running")
              .build()).getImageId());
      assertTrue(gate.awaitReached(Duration.ofSeconds(10)));

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
