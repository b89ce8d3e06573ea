package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.BlockDeviceSource;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.testkit.PostgresExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The policy create_image:allow_volume_backed set to admin: members may not snapshot their
 * volume-backed servers (PERMISSION_DENIED, no image left), admins may, and snapshots of
 * servers with local disks are not affected.
 */
class VolumeBackedSnapshotPolicyTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();
  static ConductorHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new ConductorHarness(PG.cluster(), Map.of("policy.create_image.allow_volume_backed", "admin"));
    h.registerOnFakeAgent("ceph-host", List.of("local", "rbd"));
    h.keepBeating("ceph-host");
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  @Test
  void onlyAdminsMaySnapshotVolumeBackedServers() throws Exception {
    String id = h.servers(MEMBER_A).createServer(CreateServerRequest.newBuilder().setName("vb")
        .setImageRef(h.baseImageId).setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128))
        .addBlockDevices(BlockDevice.newBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE).setUuid(h.baseImageId)
            .setBootIndex(0))
        .build()).getServer().getId();
    h.awaitIdle(id);
    int imagesBefore = h.gateway.images().size();

    var e = assertThrows(StatusRuntimeException.class, () -> h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("denied").build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    assertEquals("policy create_image:allow_volume_backed lets only admins snapshot"
        + " volume-backed servers", e.getStatus().getDescription());
    assertEquals(imagesBefore, h.gateway.images().size(), "no image record was created");

    String imageId = h.servers(ADMIN).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("allowed").build()).getImageId();
    h.awaitIdle(id);
    assertTrue(h.gateway.image(imageId).orElseThrow().containsProperties("block_device_mapping"));

    String local = h.bootActive("local-disk");
    String localImage = h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(local).setName("fine").build()).getImageId();
    h.awaitIdle(local);
    assertTrue(h.gateway.image(localImage).isPresent(), "local-disk snapshots are not affected");
  }
}
