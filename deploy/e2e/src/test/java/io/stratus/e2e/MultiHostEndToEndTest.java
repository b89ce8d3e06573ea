package io.stratus.e2e;

import static io.stratus.e2e.ReplicatedSystem.ADMIN;
import static io.stratus.e2e.ReplicatedSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.HostStatus;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.ImageStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Beyond one machine, with real processes and a real network: three compute hosts in
 * their own network namespaces, two conductors, two gateways over one Ceph pool
 * ({@link ReplicatedSystem}). Snapshots and hard reboots spread over the hosts through
 * both conductors; a conductor SIGKILLed mid-snapshot has its task taken over by the
 * other; a host whose link is cut goes down, its calls are UNAVAILABLE and nothing is
 * driven twice, and it recovers when the link is back; a gateway SIGKILLed mid-upload has
 * the upload resumed on the other. Each figure is printed as a {@code [multi-host]} line.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiHostEndToEndTest {
  static ReplicatedSystem system;
  static String base;
  /** Server name → id, one server per host. */
  static final Map<Integer, String> serverOnHost = new HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    String why = NetworkLab.unavailableReason();
    if (why != null) {
      throw new IllegalStateException("the multi-host tests cannot run: " + why);
    }
    system = new ReplicatedSystem();
    base = system.seedBaseImage(64L << 20);
    // placement takes the host with the fewest instances: one server lands on each host
    for (int i = 0; i < ReplicatedSystem.HOSTS; i++) {
      Server s = system.boot(i % 2, "spread-" + i, base);
      assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), s.toString());
      serverOnHost.put(ReplicatedSystem.hostNumber(s.getHost()), s.getId());
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (system != null) {
      system.close();
    }
  }

  private static void note(String line) {
    System.out.println("[multi-host] " + line);
  }

  @Test
  @Order(1)
  void snapshotsAndHardRebootsSpreadOverTheHostsThroughBothConductors() throws Exception {
    assertEquals(Set.of(1, 2, 3), serverOnHost.keySet(), "one server per host");
    ExecutorService pool = Executors.newFixedThreadPool(ReplicatedSystem.HOSTS);
    try {
      List<Future<String>> done = new ArrayList<>();
      long t0 = System.nanoTime();
      for (var e : serverOnHost.entrySet()) {
        int conductor = e.getKey() % 2;  // hosts 1 and 3 through conductor 1, host 2 through 0
        String id = e.getValue();
        done.add(pool.submit(() -> {
          String image = system.servers(conductor, MEMBER).createImage(CreateImageRequest
              .newBuilder().setServerId(id).setName("spread-snap").build()).getImageId();
          system.awaitIdle(1 - conductor, id, Duration.ofSeconds(180));
          system.servers(1 - conductor, MEMBER).rebootServer(RebootServerRequest.newBuilder()
              .setServerId(id).setType(RebootType.REBOOT_TYPE_HARD).build());
          Server after = system.awaitIdle(conductor, id, Duration.ofSeconds(120));
          assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());
          return image;
        }));
      }
      Set<String> images = new HashSet<>();
      for (Future<String> f : done) {
        images.add(f.get(300, TimeUnit.SECONDS));
      }
      note("3 snapshots + 3 hard reboots on 3 hosts through 2 conductors: "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
      for (String image : images) {
        assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, system.imageStatus(image));
      }
      for (var e : serverOnHost.entrySet()) {
        assertEquals(1, system.operationsStarted(e.getKey(), "Snapshot", e.getValue()));
        assertEquals(1, system.operationsStarted(e.getKey(), "Reboot", e.getValue()));
        for (int other = 1; other <= ReplicatedSystem.HOSTS; other++) {
          if (other != e.getKey()) {
            assertEquals(0, system.operationsStarted(other, "Snapshot", e.getValue()),
                "only the server's own host works on it");
          }
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  @Order(2)
  void aConductorKilledMidSnapshotHasItsTaskTakenOverByTheOther() throws Exception {
    int host = 2;
    String id = serverOnHost.get(host);
    int before = system.operationsStarted(host, "Snapshot", id);
    system.lab.limit(host, 16);  // ~2 MB/s: the upload of the 32 MiB of data takes a while
    try (Watch watch = new Watch(system.serversAsync(1, MEMBER), id)) {
      String image = system.servers(0, MEMBER).createImage(CreateImageRequest.newBuilder()
          .setServerId(id).setName("taken-over").build()).getImageId();
      awaitTask(1, id, TaskState.TASK_STATE_IMAGE_UPLOADING, Duration.ofSeconds(60));
      system.killConductor(0);  // SIGKILL: its lease stays until it expires
      long killed = System.nanoTime();
      String adopting = "adopting orphaned task; instance=" + id;
      while (!java.nio.file.Files.readString(system.conductors[1].log).contains(adopting)) {
        // the bound: lease expiry (3 missed heartbeats of 1 s) + a reconcile round (1 s);
        // generous here, for a loaded machine
        assertTrue(System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(15),
            "the other conductor did not adopt the task:\n" + system.tails());
        Thread.sleep(20);
      }
      note("conductor SIGKILLed mid-upload: its task adopted by the other "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed) + " ms after the kill"
          + " (bound: lease expiry 3 s + reconcile round 1 s)");
      Server after = system.awaitIdle(1, id, Duration.ofSeconds(180));
      note("conductor SIGKILLed mid-upload: snapshot finished through the other "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed) + " ms after the kill"
          + " (the upload runs at 16 Mbit/s)");
      assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, system.imageStatus(image));
      // the agent ran the snapshot once: the survivor re-attached rather than re-ran it
      assertEquals(before + 1, system.operationsStarted(host, "Snapshot", id));
      // a watch on the survivor saw the transitions the dead one drove, and the end
      List<String> seen = watch.states();
      assertTrue(seen.contains("image_uploading/active/RUNNING"), seen.toString());
      assertTrue(seen.contains("none/active/RUNNING"), seen.toString());
      ServerAction snapshot = lastAction(1, id, "createImage");
      assertTrue(snapshot.hasFinishTime() && snapshot.getMessage().isEmpty(),
          snapshot.toString());
    } finally {
      system.lab.limit(host, 0);
      system.restartConductor(0);
    }
  }

  @Test
  @Order(3)
  void aHostCutOffTheNetworkGoesDownRefusesCallsAndRecoversWhenItsLinkIsBack()
      throws Exception {
    int host = 3;
    String id = serverOnHost.get(host);
    String other = serverOnHost.get(1);
    int stopsBefore = system.operationsStarted(host, "PowerOff", id);
    system.lab.cut(host);
    long cut = System.nanoTime();
    try {
      while (system.hostRecord(1, ReplicatedSystem.host(host)).getStatus()
          != HostStatus.HOST_STATUS_DOWN) {
        assertTrue(System.nanoTime() - cut < TimeUnit.SECONDS.toNanos(30), "host never down");
        Thread.sleep(100);
      }
      note("link cut: host down after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cut)
          + " ms (3 missed heartbeats of 1 s)");
      for (int c = 0; c < 2; c++) {
        int conductor = c;
        var e = assertThrows(StatusRuntimeException.class, () -> system.servers(conductor,
            MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(id).build()));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        assertTrue(e.getStatus().getDescription().contains(ReplicatedSystem.host(host)),
            e.toString());
      }
      Server unchanged = system.get(0, id);
      assertEquals(VmState.VM_STATE_ACTIVE, unchanged.getVmState());
      assertEquals(TaskState.TASK_STATE_NONE, unchanged.getTaskState(), "nothing half-written");
      // the other hosts work meanwhile
      system.servers(1, MEMBER).rebootServer(RebootServerRequest.newBuilder()
          .setServerId(other).setType(RebootType.REBOOT_TYPE_HARD).build());
      assertEquals(VmState.VM_STATE_ACTIVE,
          system.awaitIdle(1, other, Duration.ofSeconds(120)).getVmState());
    } finally {
      system.lab.restore(host);
    }
    long restored = System.nanoTime();
    while (system.hostRecord(0, ReplicatedSystem.host(host)).getStatus()
        != HostStatus.HOST_STATUS_UP) {
      assertTrue(System.nanoTime() - restored < TimeUnit.SECONDS.toNanos(60),
          "host never up again:\n" + system.tails());
      Thread.sleep(100);
    }
    note("link restored: host up after "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restored) + " ms");
    system.servers(0, MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
    assertEquals(VmState.VM_STATE_STOPPED,
        system.awaitIdle(1, id, Duration.ofSeconds(120)).getVmState());
    assertEquals(stopsBefore + 1, system.operationsStarted(host, "PowerOff", id),
        "the refused stops never reached the host; the accepted one ran once");
    system.servers(1, MEMBER).startServer(StartServerRequest.newBuilder().setServerId(id)
        .build());
    assertEquals(VmState.VM_STATE_ACTIVE,
        system.awaitIdle(0, id, Duration.ofSeconds(120)).getVmState());
  }

  @Test
  @Order(4)
  void aGatewayKilledMidUploadHasTheUploadResumedOnTheOther() throws Exception {
    int host = 1;
    String id = serverOnHost.get(host);
    int before = system.operationsStarted(host, "Snapshot", id);
    system.lab.limit(host, 16);
    String image;
    int killed;
    try {
      image = system.servers(1, MEMBER).createImage(CreateImageRequest.newBuilder()
          .setServerId(id).setName("gateway-killed").build()).getImageId();
      awaitTask(0, id, TaskState.TASK_STATE_IMAGE_UPLOADING, Duration.ofSeconds(60));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (system.gatewayWriting(image) < 0) {
        assertTrue(System.nanoTime() < deadline, "no gateway writes the image");
        Thread.sleep(50);
      }
      Thread.sleep(2000);  // some of it on its way
      killed = system.gatewayWriting(image);
      system.killGateway(killed);
    } finally {
      system.lab.limit(host, 0);
    }
    long t = System.nanoTime();
    Server after = system.awaitIdle(0, id, Duration.ofSeconds(180));
    note("gateway SIGKILLed mid-upload: snapshot finished "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t) + " ms after the kill"
        + " (writer lease 15 s, Ceph watch timeout 30 s)");
    assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, system.imageStatus(image), system.tails());
    int survivor = 1 - killed;
    String survivorLog = java.nio.file.Files.readString(system.gateways[survivor].log);
    assertTrue(survivorLog.contains("upload writing into Ceph; image=" + image),
        "the other gateway took the upload over");
    assertEquals(before + 1, system.operationsStarted(host, "Snapshot", id),
        "the agent resumed its upload; it did not run the snapshot again");
    system.restartGateway(killed);
  }

  private static void awaitTask(int conductor, String id, TaskState want, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (system.get(conductor, id).getTaskState() != want) {
      assertTrue(System.nanoTime() < deadline, "never " + want + ": " + system.get(conductor, id));
      Thread.sleep(20);
    }
  }

  private static ServerAction lastAction(int conductor, String id, String name) {
    return system.servers(conductor, ADMIN).listServerActions(ListServerActionsRequest
            .newBuilder().setServerId(id).build()).getActionsList().stream()
        .filter(a -> a.getAction().equals(name))
        .reduce((a, b) -> b).orElseThrow();
  }
}
