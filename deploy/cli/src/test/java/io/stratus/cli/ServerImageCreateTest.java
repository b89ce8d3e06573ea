package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.conductor.v1.CreateImageResponse;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.Progress;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.StateChange;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ServerImageCreateTest {
  private static final long MIB = 1 << 20;
  private static final Server SERVER = Server.newBuilder()
      .setId("33333333-3333-3333-3333-333333333333")
      .setName("web")
      .setVmState(VmState.VM_STATE_ACTIVE)
      .setPowerState(PowerState.POWER_STATE_RUNNING)
      .build();
  private static final Image QUEUED = Image.newBuilder()
      .setId("img-1").setName("snap").setStatus(ImageStatus.IMAGE_STATUS_QUEUED).build();

  private FakeCloud cloud;

  @BeforeEach
  void setUp() throws Exception {
    cloud = new FakeCloud();
    cloud.servers.servers.put(SERVER.getId(), SERVER);
    cloud.servers.createImageResponse = CreateImageResponse.newBuilder()
        .setImageId(QUEUED.getId()).setRequestId("req-1").build();
    cloud.servers.watchScript = List.of(
        snapshot(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING),
        task(TaskState.TASK_STATE_IMAGE_UPLOADING),
        progress("req-other", 1, 2), // another request's progress is not drawn
        progress("req-1", 0, 8 * MIB),
        progress("req-1", 4 * MIB, 8 * MIB),
        progress("req-1", 8 * MIB, 8 * MIB),
        task(TaskState.TASK_STATE_NONE));
    cloud.images.images.put(QUEUED.getId(), QUEUED);
  }

  @AfterEach
  void tearDown() throws Exception {
    cloud.close();
  }

  @Test
  void waitDrawsProgressAndSucceedsWhenTheImageIsActive() throws Exception {
    cloud.servers.afterWatch = () -> cloud.images.images.put(QUEUED.getId(),
        QUEUED.toBuilder().setStatus(ImageStatus.IMAGE_STATUS_ACTIVE).setSize(8 * MIB).build());

    FakeCloud.Result r = cloud.run("server", "image", "create", SERVER.getId(),
        "--name", "snap", "--property", "os_type=linux", "--wait");

    assertEquals(0, r.code(), r.err());
    List<String> progress = r.err().lines().toList();
    assertTrue(progress.get(0).startsWith("image_uploading  [------------------------]   0%  "
        + "0 B / 8.0 MiB"), r.err());
    assertEquals("image_uploading  [########################] 100%  8.0 MiB / 8.0 MiB",
        progress.get(progress.size() - 1).replaceAll("  [0-9.]+ [KMG]?i?B/s.*", ""), r.err());
    assertFalse(r.err().contains("\r"), "not a terminal: plain lines");
    assertFalse(r.err().contains("1 B / 2 B"), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("status\\s+active")), r.out());
    assertEquals(Map.of("os_type", "linux"),
        cloud.servers.createImageRequests.get(0).getMetadataMap());
    assertTrue(cloud.servers.watchCancelled.await(5, TimeUnit.SECONDS),
        "the CLI cancels its watch once the task ended");
  }

  @Test
  void waitFailsWithTheFaultWhenTheSnapshotFailed() {
    cloud.servers.afterWatch = () -> {
      cloud.servers.servers.put(SERVER.getId(), SERVER.toBuilder()
          .setFault(Fault.newBuilder()
              .setCode(Status.Code.INTERNAL.value())
              .setMessage("snapshot failed: disk read error")
              .setCreatedAt(Timestamp.newBuilder().setSeconds(1_700_000_000)))
          .build());
      cloud.images.images.remove(QUEUED.getId());
    };

    FakeCloud.Result r = cloud.run("server", "image", "create", SERVER.getId(),
        "--name", "snap", "--wait");

    assertEquals(1, r.code());
    assertTrue(r.err().endsWith("\nerror: INTERNAL: snapshot failed: disk read error\n"), r.err());
    assertEquals("", r.out());
  }

  @Test
  void withoutWaitPrintsTheImageAndRequestIds() {
    FakeCloud.Result r = cloud.run("server", "image", "create", SERVER.getId(), "--name", "snap");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Field       Value
        image_id    img-1
        request_id  req-1
        """, r.out());
  }

  private static ServerEvent snapshot(TaskState task) {
    return ServerEvent.newBuilder().setServerId(SERVER.getId())
        .setSnapshot(SERVER.toBuilder().setTaskState(task)).build();
  }

  private static ServerEvent task(TaskState task) {
    return ServerEvent.newBuilder().setServerId(SERVER.getId())
        .setStateChange(StateChange.newBuilder()
            .setVmState(VmState.VM_STATE_ACTIVE)
            .setPowerState(PowerState.POWER_STATE_RUNNING)
            .setTaskState(task))
        .build();
  }

  private static ServerEvent progress(String requestId, long done, long total) {
    return ServerEvent.newBuilder().setServerId(SERVER.getId())
        .setProgress(Progress.newBuilder()
            .setRequestId(requestId).setBytesDone(done).setBytesTotal(total))
        .build();
  }
}
