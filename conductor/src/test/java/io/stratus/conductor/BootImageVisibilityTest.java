package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static io.stratus.conductor.ConductorHarness.MEMBER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Status;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.BlockDeviceSource;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.VmState;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Booting checks Glance's visibility rules: another project's private (or shared) image
 * does not exist for the caller — NOT_FOUND, as for a missing one, and nothing is recorded —
 * while public and community images boot for everyone and an admin boots any image.
 */
class BootImageVisibilityTest extends ConductorTest {
  static CreateServerRequest boot(String name, String image) {
    return CreateServerRequest.newBuilder().setName(name).setImageRef(image)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)).build();
  }

  private static void active(String serverId) throws Exception {
    assertEquals(VmState.VM_STATE_ACTIVE, h.awaitIdle(serverId).getVmState());
  }

  @Test
  void anotherProjectsPrivateImageDoesNotExistForTheCaller() throws Exception {
    for (String visibility : List.of("private", "shared")) {
      String image = h.gateway.seedImage("a-" + visibility, "project-a", visibility).getId();
      var e = refused(Status.Code.NOT_FOUND,
          () -> h.servers(MEMBER_B).createServer(boot("b-" + visibility, image)));
      assertEquals("image_ref: image " + image + " not found", e.getStatus().getDescription());
      assertEquals(0, h.count("SELECT count(*) FROM instances WHERE name = ?", "b-" + visibility));

      active(h.servers(MEMBER_A).createServer(boot("a-" + visibility, image)).getServer().getId());
      active(h.servers(ADMIN).createServer(boot("admin-" + visibility, image)).getServer().getId());
    }
  }

  @Test
  void aSharedImageBootsForItsMembers() throws Exception {
    String image = h.gateway.seedImage("a-shared-with-b", "project-a", "shared").getId();
    h.gateway.addMember(image, "project-b");  // pending: a member may boot before accepting
    h.gateway.addMember(image, "project-c");
    active(h.servers(MEMBER_B).createServer(boot("b-member", image)).getServer().getId());
  }

  @Test
  void publicAndCommunityImagesBootForEveryProject() throws Exception {
    for (String visibility : List.of("public", "community")) {
      String image = h.gateway.seedImage("a-" + visibility, "project-a", visibility).getId();
      active(h.servers(MEMBER_B).createServer(boot("b-" + visibility, image)).getServer().getId());
    }
  }

  @Test
  void anImageVolumeOfAnotherProjectsPrivateImageIsRefusedToo() throws Exception {
    h.registerOnFakeAgent("vis-ceph-host", List.of("local", "rbd"));
    h.keepBeating("vis-ceph-host");
    String privateImage = h.gateway.seedImage("a-volume-source", "project-a", "private").getId();
    CreateServerRequest r = boot("b-volumes", h.baseImageId).toBuilder()
        .addBlockDevices(BlockDevice.newBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE).setUuid(privateImage)
            .setBootIndex(0).setDeleteOnTermination(true))
        .build();
    var e = refused(Status.Code.NOT_FOUND, () -> h.servers(MEMBER_B).createServer(r));
    assertEquals("block_devices[0].uuid: image " + privateImage + " not found",
        e.getStatus().getDescription());
    assertEquals(0, h.count("SELECT count(*) FROM volumes WHERE source_id = ?", privateImage));
  }

  @Test
  void anotherProjectsImageCannotBeDeletedThroughTheConductor() {
    String image = h.gateway.seedImage("a-keep", "project-a", "public").getId();
    refused(Status.Code.NOT_FOUND, () -> h.servers(MEMBER_B).deleteSnapshotImage(
        DeleteSnapshotImageRequest.newBuilder().setImageId(image).build()));
    assertEquals(false, h.gateway.wasDeleted(image));
  }
}
