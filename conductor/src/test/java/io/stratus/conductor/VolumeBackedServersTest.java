package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.conductor.v1.AttachedVolume;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.BlockDeviceSource;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.GetServerRequest;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Volume-backed servers through the public API (Nova boot from volume and
 * snapshot_volume_backed): the volume records, what the agent is asked to do, the image of
 * size 0 whose block_device_mapping lists the volume snapshots, and booting from it. The
 * agent is the in-process fake; the real agent's side runs against Ceph and qemu in the
 * compute-agent's VolumeBackedTest and QuiesceWithGuestAgentStubTest.
 */
class VolumeBackedServersTest extends ConductorTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static String agentImage;

  @BeforeAll
  static void cephHost() {
    h.registerOnFakeAgent("ceph-host", List.of("local", "rbd"));
    h.keepBeating("ceph-host");
    agentImage = h.gateway.seedActiveImage("with-agent",
        Map.of("hw_qemu_guest_agent", "yes", "os_require_quiesce", "yes")).getId();
  }

  static BlockDevice image(String id) {
    return BlockDevice.newBuilder().setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE)
        .setUuid(id).setBootIndex(0).setDeleteOnTermination(true).build();
  }

  static BlockDevice blank(int gb) {
    return BlockDevice.newBuilder().setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_BLANK)
        .setVolumeSizeGb(gb).setBootIndex(-1).setDeleteOnTermination(true).build();
  }

  static CreateServerRequest.Builder boot(String name) {
    return CreateServerRequest.newBuilder().setName(name).setImageRef(agentImage)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128));
  }

  private Server bootVolumeBacked(String name) throws Exception {
    String id = h.servers(MEMBER_A).createServer(boot(name)
        .addBlockDevices(blank(2)).addBlockDevices(image(agentImage)).addBlockDevices(blank(1))
        .build()).getServer().getId();
    Server s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), s.toString());
    return s;
  }

  private static InstanceSpec spawnedSpec(String serverId) {
    return h.agent.spawned().stream().filter(i -> i.getUuid().equals(serverId)).findFirst()
        .orElseThrow();
  }

  @Test
  void bootFromVolumeRecordsTheVolumesAndHandsThemToTheAgentBootVolumeFirst() throws Exception {
    Server s = bootVolumeBacked("from-volume");

    assertEquals("ceph-host", s.getHost(), "only a host with rbd storage can run it");
    assertEquals(List.of("vda", "vdb", "vdc"), s.getVolumesList().stream().map(AttachedVolume::getDevice).toList());
    assertEquals(List.of(0, -1, -1), s.getVolumesList().stream().map(AttachedVolume::getBootIndex).toList());
    assertEquals(List.of(0L, 2L << 30, 1L << 30),
        s.getVolumesList().stream().map(AttachedVolume::getSizeBytes).toList());
    assertEquals(3, h.count("SELECT count(*) FROM volumes WHERE instance_uuid = ?::uuid"
        + " AND status = 'in-use' AND pool = 'rbd'", s.getId()));

    InstanceSpec spec = spawnedSpec(s.getId());
    assertTrue(spec.getGuestAgent(), "hw_qemu_guest_agent=yes on the image");
    assertEquals(agentImage, spec.getVolumes(0).getSourceImage());
    assertEquals("vda", spec.getVolumes(0).getDevice());
    assertEquals("", spec.getVolumes(1).getSourceImage());
    assertEquals(2L << 30, spec.getVolumes(1).getSizeBytes());
    assertEquals("volume-" + spec.getVolumes(1).getId(), spec.getVolumes(1).getImage());
  }

  @Test
  void snapshotOfAVolumeBackedServerIsAnEmptyImageListingItsVolumeSnapshots() throws Exception {
    Server s = bootVolumeBacked("to-snapshot");
    var r = h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder()
        .setServerId(s.getId()).setName("vb-snap").build());
    Server after = h.awaitIdle(s.getId());
    assertEquals(TaskState.TASK_STATE_NONE, after.getTaskState());
    assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());

    Image image = h.gateway.image(r.getImageId()).orElseThrow();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(0, image.getSize(), "Nova's volume-backed snapshot image has no content");
    assertEquals("True", image.getPropertiesOrThrow("bdm_v2"));
    assertEquals("/dev/vda", image.getPropertiesOrThrow("root_device_name"));
    assertEquals("snapshot", image.getPropertiesOrThrow("image_type"));
    JsonNode bdm = JSON.readTree(image.getPropertiesOrThrow("block_device_mapping"));
    assertEquals(3, bdm.size());
    for (int n = 0; n < 3; n++) {
      JsonNode e = bdm.get(n);
      assertEquals("snapshot", e.get("source_type").asText());
      assertEquals("volume", e.get("destination_type").asText());
      assertEquals("/dev/" + s.getVolumes(n).getDevice(), e.get("device_name").asText());
      assertEquals(s.getVolumes(n).getBootIndex(), e.get("boot_index").asInt());
      assertEquals(1, h.count("SELECT count(*) FROM volume_snapshots WHERE id = ?::uuid"
          + " AND image_id = '" + r.getImageId() + "' AND rbd_snapshot = 'image-" + r.getImageId() + "'",
          e.get("snapshot_id").asText()));
    }
    for (AttachedVolume v : s.getVolumesList()) {
      assertTrue(h.agent.volumeSnapshots().contains("rbd/volume-" + v.getId() + "@image-" + r.getImageId()),
          h.agent.volumeSnapshots().toString());
    }
  }

  @Test
  void bootingFromTheSnapshotImageClonesItsVolumeSnapshotsIntoNewVolumes() throws Exception {
    Server original = bootVolumeBacked("original");
    String imageId = h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder()
        .setServerId(original.getId()).setName("golden").build()).getImageId();
    h.awaitIdle(original.getId());

    String copyId = h.servers(MEMBER_A).createServer(boot("copy").setImageRef(imageId).build())
        .getServer().getId();
    Server copy = h.awaitIdle(copyId);
    assertEquals(VmState.VM_STATE_ACTIVE, copy.getVmState(), copy.toString());
    assertEquals(3, copy.getVolumesCount());
    InstanceSpec spec = spawnedSpec(copyId);
    for (int n = 0; n < 3; n++) {
      assertEquals(original.getVolumes(n).getDevice(), spec.getVolumes(n).getDevice());
      assertEquals("rbd/volume-" + original.getVolumes(n).getId() + "@image-" + imageId,
          spec.getVolumes(n).getSourceSnapshot(), "cloned from the snapshot of the same device");
      assertTrue(!spec.getVolumes(n).getId().equals(original.getVolumes(n).getId()), "a new volume");
    }
    assertEquals(3, h.count("SELECT count(*) FROM volumes WHERE instance_uuid = ?::uuid"
        + " AND source_type = 'snapshot'", copyId));
  }

  @Test
  void deletingTheServerDeletesItsVolumesExceptThoseAnImageDependsOn() throws Exception {
    Server keep = bootVolumeBacked("snapshotted-then-deleted");
    h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder().setServerId(keep.getId())
        .setName("depends").build());
    h.awaitIdle(keep.getId());
    Server plain = bootVolumeBacked("just-deleted");
    for (Server s : List.of(keep, plain)) {
      h.servers(MEMBER_A).deleteServer(io.stratus.proto.conductor.v1.DeleteServerRequest.newBuilder()
          .setServerId(s.getId()).build());
    }
    for (Server s : List.of(keep, plain)) {
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (!"deleted".equals(h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", s.getId()))) {
        assertTrue(System.nanoTime() < deadline, "server " + s.getId() + " was not deleted");
        Thread.sleep(20);
      }
    }
    assertEquals(3, h.count("SELECT count(*) FROM volumes WHERE instance_uuid = ?::uuid"
        + " AND status = 'available'", keep.getId()), "the snapshot image still needs them");
    assertEquals(3, h.count("SELECT count(*) FROM volumes WHERE instance_uuid = ?::uuid"
        + " AND status = 'deleted' AND deleted_at IS NOT NULL", plain.getId()));
  }

  @Test
  void deletingTheSnapshotImageDeletesItsVolumeSnapshotsUnlessAVolumeStillDependsOnThem()
      throws Exception {
    Server original = bootVolumeBacked("image-owner");
    String imageId = h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder()
        .setServerId(original.getId()).setName("to-delete").build()).getImageId();
    h.awaitIdle(original.getId());
    String copyId = h.servers(MEMBER_A).createServer(boot("clone-of-it").setImageRef(imageId)
        .build()).getServer().getId();
    h.awaitIdle(copyId);

    // The gateway refuses to drop it behind the conductor's back.
    var direct = refused(Status.Code.FAILED_PRECONDITION, () -> io.stratus.proto.image.v1.ImagesGrpc
        .newBlockingStub(h.gatewayChannel()).deleteImage(io.stratus.proto.image.v1.DeleteImageRequest
            .newBuilder().setImageId(imageId).build()));
    assertTrue(direct.getStatus().getDescription().contains("Servers.DeleteSnapshotImage"));

    var held = refused(Status.Code.FAILED_PRECONDITION, () -> h.servers(MEMBER_A).deleteSnapshotImage(
        io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build()));
    assertTrue(held.getStatus().getDescription().contains("(server " + copyId + ", in-use) was cloned"
        + " from its volume snapshot"), held.getStatus().getDescription());
    assertTrue(h.gateway.image(imageId).isPresent(), "nothing was deleted");
    assertEquals(3, h.count("SELECT count(*) FROM volume_snapshots WHERE image_id = '" + imageId + "'"));

    h.servers(MEMBER_A).deleteServer(io.stratus.proto.conductor.v1.DeleteServerRequest.newBuilder()
        .setServerId(copyId).build());
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!"deleted".equals(h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", copyId))) {
      assertTrue(System.nanoTime() < deadline, "the clone's server was not deleted");
      Thread.sleep(20);
    }
    var done = h.servers(MEMBER_A).deleteSnapshotImage(
        io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build());
    assertEquals(3, done.getVolumeSnapshotsDeleted());
    assertTrue(h.gateway.image(imageId).isEmpty());
    assertEquals(0, h.count("SELECT count(*) FROM volume_snapshots WHERE image_id = '" + imageId + "'"));
    assertTrue(h.agent.volumeSnapshots().stream().noneMatch(x -> x.endsWith("@image-" + imageId)),
        "the agent removed them in Ceph");
    var again = refused(Status.Code.NOT_FOUND, () -> h.servers(MEMBER_A).deleteSnapshotImage(
        io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build()));
    assertEquals("image " + imageId + " not found", again.getStatus().getDescription());
  }

  @Test
  void volumeSnapshotsOfAnImageThatIsGoneAreCollected() throws Exception {
    Server s = bootVolumeBacked("gc-volume-snapshots");
    var r = h.servers(MEMBER_A).createImage(CreateImageRequest.newBuilder()
        .setServerId(s.getId()).setName("vb-gone").build());
    h.awaitIdle(s.getId());
    String imageId = r.getImageId();
    // A crash between deleting the image and releasing its volume snapshots: the image is
    // gone, its rows and RBD snapshots stay.
    io.stratus.proto.image.v1.ImagesGrpc.newBlockingStub(h.gatewayChannel())
        .deleteImage(io.stratus.proto.image.v1.DeleteImageRequest.newBuilder().setImageId(imageId)
            .setVolumeSnapshotsReleased(true).build());
    assertEquals(3, h.count("SELECT count(*) FROM volume_snapshots WHERE image_id = ?", imageId));
    h.conductor.snapshotGc().collectOnce();
    assertEquals(3, h.count("SELECT count(*) FROM volume_snapshots WHERE image_id = ?", imageId),
        "too recent to be collected");
    h.execute("UPDATE volume_snapshots SET created_at = created_at - interval '1 hour'"
        + " WHERE image_id = ?", imageId);

    assertTrue(h.conductor.snapshotGc().collectOnce() >= 1);
    assertEquals(0, h.count("SELECT count(*) FROM volume_snapshots WHERE image_id = ?", imageId));
    assertTrue(h.agent.volumeSnapshots().stream().noneMatch(x -> x.endsWith("@image-" + imageId)),
        h.agent.volumeSnapshots().toString());
  }

  @Test
  void badBlockDevicesAreRefusedNamingTheField() throws Exception {
    var twoBoots = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createServer(
        boot("x").addBlockDevices(image(agentImage)).addBlockDevices(image(agentImage)).build()));
    assertEquals("block_devices: exactly one needs boot_index 0, got 2", twoBoots.getStatus().getDescription());
    var blankNoSize = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createServer(
        boot("x").addBlockDevices(image(agentImage)).addBlockDevices(blank(0)).build()));
    assertEquals("block_devices[1].volume_size_gb: a blank volume needs a size",
        blankNoSize.getStatus().getDescription());
    var noSource = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createServer(
        boot("x").addBlockDevices(image(agentImage).toBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_UNSPECIFIED)).build()));
    assertEquals("block_devices[0].source_type: must be IMAGE or BLANK",
        noSource.getStatus().getDescription());
    var localHost = refused(Status.Code.FAILED_PRECONDITION, () -> h.servers(ADMIN).createServer(
        boot("x").setHost(ConductorHarness.HOST).addBlockDevices(image(agentImage)).build()));
    assertEquals("block_devices: host " + ConductorHarness.HOST + " offers [local] storage, not rbd",
        localHost.getStatus().getDescription());
    assertEquals(0, h.count("SELECT count(*) FROM instances WHERE name = 'x'"), "nothing was recorded");
  }

  @Test
  void unknownImagesAreRefusedBeforeAnythingIsRecorded() throws Exception {
    var e = refused(Status.Code.NOT_FOUND, () -> h.servers(MEMBER_A).createServer(
        boot("ghost").setImageRef("6f1c0d55-0000-4000-8000-00000000dead").build()));
    assertEquals("image_ref: image 6f1c0d55-0000-4000-8000-00000000dead not found",
        e.getStatus().getDescription());
    assertEquals(0, h.count("SELECT count(*) FROM instances WHERE name = 'ghost'"));
  }

  @Test
  void getServerShowsTheVolumes() throws Exception {
    Server s = bootVolumeBacked("shown");
    Server got = h.servers(MEMBER_A).getServer(GetServerRequest.newBuilder().setServerId(s.getId())
        .build()).getServer();
    assertEquals(s.getVolumesList(), got.getVolumesList());
  }
}
