package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code stratus image delete}: plain images at the gateway, volume-backed snapshots via the conductor. */
class ImageDeleteTest {
  static final String PLAIN = "11111111-0000-4000-8000-000000000001";
  static final String VOLUME_BACKED = "11111111-0000-4000-8000-000000000002";
  private FakeCloud cloud;

  @BeforeEach
  void start() throws Exception {
    cloud = new FakeCloud();
    cloud.images.images.put(PLAIN, Image.newBuilder().setId(PLAIN)
        .setStatus(ImageStatus.IMAGE_STATUS_ACTIVE).build());
    cloud.images.images.put(VOLUME_BACKED, Image.newBuilder().setId(VOLUME_BACKED)
        .setStatus(ImageStatus.IMAGE_STATUS_ACTIVE).putProperties("bdm_v2", "True")
        .putProperties("block_device_mapping", "[]").build());
  }

  @AfterEach
  void stop() {
    cloud.close();
  }

  @Test
  void aPlainImageIsDeletedAtTheGateway() {
    FakeCloud.Result r = cloud.run("image", "delete", PLAIN);
    assertEquals(0, r.code(), r.err());
    assertFalse(cloud.images.images.containsKey(PLAIN));
    assertEquals(List.of(), cloud.servers.deletedSnapshotImages);
  }

  @Test
  void aVolumeBackedSnapshotIsDeletedThroughTheConductor() {
    FakeCloud.Result r = cloud.run("image", "delete", VOLUME_BACKED);
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(VOLUME_BACKED), cloud.servers.deletedSnapshotImages);
  }

  @Test
  void aVolumeThatStillDependsOnItIsReportedInOneLine() {
    cloud.servers.heldImages.add(VOLUME_BACKED);
    FakeCloud.Result r = cloud.run("image", "delete", VOLUME_BACKED);
    assertEquals(1, r.code());
    assertTrue(r.err().startsWith("error: FAILED_PRECONDITION: image " + VOLUME_BACKED
        + ": volume v-1 (server s-1, in-use) was cloned"), r.err());
    assertEquals(1, r.err().lines().count());
  }
}
