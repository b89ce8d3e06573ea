package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.BlockDeviceSource;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.RootDiskKind;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.support.digest.ChunkDigest;
import io.stratus.support.imageio.SparseFiles;
import io.stratus.testkit.CephCluster;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The fault-injection suite (issue 13): real processes killed with SIGKILL at points of
 * real operations, drawn from a seed ({@link FaultPoint#plan}), each followed by a
 * restart of the killed process and the checks that nothing was lost or left behind:
 * the server idle again within {@link #SETTLE}, a snapshot either active with the content
 * the guest's disk had (sha256-4m computed here from the disk) or deleted, a power
 * operation completed as asked, the guest's power state as the database says and as
 * before (for snapshots), the operation's action finished, and none of the {@link
 * Leftovers} anywhere in the system.
 *
 * <p>{@code .ci/run} runs a short deterministic set (seed 20261206, 2 points per
 * component, no Ceph). {@code deploy/faults.sh} runs the full seeded set (20 points per
 * component, with Ceph: RBD direct and volume-backed snapshots too) and writes its table
 * to {@code docs/benchmarks/fault-suite.md}. Settings (environment): {@code
 * STRATUS_FAULTS_SEED}, {@code STRATUS_FAULTS_PER_COMPONENT}, {@code STRATUS_FAULTS_CEPH},
 * {@code STRATUS_FAULTS_REPORT} (a path for the Markdown table).
 */
class FaultInjectionTest {
  /** How long the system may take to settle after a kill and restart. */
  static final Duration SETTLE = Duration.ofSeconds(240);

  static final long SEED = Long.parseLong(env("STRATUS_FAULTS_SEED", "20261206"));
  static final int PER_COMPONENT = Integer.parseInt(env("STRATUS_FAULTS_PER_COMPONENT", "2"));
  static final boolean CEPH = Boolean.parseBoolean(env("STRATUS_FAULTS_CEPH", "false"));

  static CephCluster ceph;
  static StratusSystem system;
  static String base;

  private static String env(String key, String fallback) {
    String v = System.getenv(key);
    return v == null || v.isBlank() ? fallback : v;
  }

  @BeforeAll
  static void start() throws Exception {
    ceph = CEPH ? CephCluster.start() : null;
    try {
      system = new StratusSystem(ceph);
      base = system.seedBaseImage(32L << 20);
    } catch (Exception | Error e) {
      if (ceph != null) {
        ceph.close();
      }
      throw e;
    }
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (system != null) {
        system.close();
      }
    } finally {
      if (ceph != null) {
        ceph.close();
      }
    }
  }

  /** What one kill point came to. */
  record Outcome(FaultPoint point, String stateAtKill, String result, long settleMs,
      List<String> problems) {}

  @Test
  void everyKillPointEndsCleanlyAndLeavesNothingBehind() throws Exception {
    List<FaultPoint> plan = FaultPoint.plan(SEED, PER_COMPONENT, CEPH);
    List<Outcome> outcomes = new ArrayList<>();
    for (FaultPoint p : plan) {
      Outcome o = run(p);
      outcomes.add(o);
      System.out.printf("[faults] #%d %s: at kill %s -> %s in %d ms%s%n", p.n(), p.describe(),
          o.stateAtKill(), o.result(), o.settleMs(),
          o.problems().isEmpty() ? "" : " PROBLEMS " + o.problems());
    }
    String report = report(outcomes);
    Path out = Path.of(env("STRATUS_FAULTS_REPORT", "target/fault-suite.md"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, report);
    System.out.println(report);
    List<String> all = outcomes.stream().flatMap(o -> o.problems().stream()
        .map(x -> "#" + o.point().n() + " " + o.point().describe() + ": " + x)).toList();
    assertEquals(List.of(), all, "every kill point ends clean (replay: STRATUS_FAULTS_SEED="
        + SEED + ")");
  }

  // ------------------------------------------------------------------ one point

  private Outcome run(FaultPoint p) throws Exception {
    Server s = prepare(p);
    String id = s.getId();
    String expectedDigest = p.operation() == FaultPoint.Op.LIVE_SNAPSHOT
        || p.operation() == FaultPoint.Op.COLD_SNAPSHOT ? contentDigest(system.disk(id)) : null;
    String domainBefore = StratusSystem.domstate(id);
    String imageId = start(p, id);
    String stateAtKill = awaitTrigger(p, id);
    Thread.sleep(p.delayMs());
    kill(p);
    long killed = System.nanoTime();
    restart(p);
    Server after = settle(id);
    long settleMs = (System.nanoTime() - killed) / 1_000_000;
    List<String> problems = new ArrayList<>();
    String result;
    if (after == null) {
      problems.add("not idle " + SETTLE.toSeconds() + " s after the restart: "
          + safeGet(id).map(Server::toString).orElse("?"));
      result = "stuck";
    } else if (p.operation().snapshot()) {
      result = checkSnapshot(p, after, imageId, expectedDigest, domainBefore, problems);
    } else {
      result = checkPower(p, after, problems);
    }
    if (after != null) {
      checkActionFinished(id, p, problems);
      checkHypervisorAgrees(after, problems);
    }
    problems.addAll(Leftovers.find(system, ceph));
    cleanUp(id, imageId, result);
    return new Outcome(p, stateAtKill, result, settleMs, problems);
  }

  private Server prepare(FaultPoint p) throws Exception {
    CreateServerRequest.Builder r = CreateServerRequest.newBuilder()
        .setName("fault-" + p.n()).setImageRef(base)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128).setRootGb(1));
    switch (p.operation()) {
      case RBD_SNAPSHOT -> r.setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD);
      case VOLUME_SNAPSHOT -> r.addBlockDevices(BlockDevice.newBuilder()
          .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE).setUuid(base)
          .setBootIndex(0).setDeleteOnTermination(true));
      default -> { }
    }
    String id = system.servers(MEMBER).createServer(r.build()).getServer().getId();
    Server s = system.awaitIdle(id, Duration.ofSeconds(120));
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), "set-up boot failed: " + s);
    if (p.operation() != FaultPoint.Op.VOLUME_SNAPSHOT) {
      // data for the snapshot to carry: 48 MiB in two places, distinct per point
      StratusSystem.guestWrite(id, 0x20 + p.n() % 200, 64L << 20, 32L << 20);
      StratusSystem.guestWrite(id, 0x21 + p.n() % 200, 512L << 20, 16L << 20);
    }
    if (p.operation() == FaultPoint.Op.COLD_SNAPSHOT || p.operation() == FaultPoint.Op.START) {
      system.servers(MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(id)
          .setTimeoutSeconds(1).build());
      s = system.awaitIdle(id, Duration.ofSeconds(60));
      assertEquals(VmState.VM_STATE_STOPPED, s.getVmState(), "set-up stop failed: " + s);
    }
    return s;
  }

  /** Starts the operation; returns the snapshot's image id, else null. */
  private static String start(FaultPoint p, String id) {
    var api = system.servers(MEMBER);
    return switch (p.operation()) {
      case LIVE_SNAPSHOT, COLD_SNAPSHOT, RBD_SNAPSHOT, VOLUME_SNAPSHOT -> api.createImage(
          CreateImageRequest.newBuilder().setServerId(id).setName("fault-" + p.n()).build())
          .getImageId();
      case START -> {
        api.startServer(StartServerRequest.newBuilder().setServerId(id).build());
        yield null;
      }
      case STOP -> {
        api.stopServer(StopServerRequest.newBuilder().setServerId(id).setTimeoutSeconds(2).build());
        yield null;
      }
      case HARD_REBOOT -> {
        api.rebootServer(RebootServerRequest.newBuilder().setServerId(id)
            .setType(RebootType.REBOOT_TYPE_HARD).build());
        yield null;
      }
    };
  }

  /** Waits until the server shows the trigger state or a later one; returns what it saw. */
  private static String awaitTrigger(FaultPoint p, String id) throws Exception {
    int wanted = p.operation().states.indexOf(p.trigger());
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    String last = "?";
    while (System.nanoTime() < deadline) {
      Server s = system.get(id);
      TaskState t = s.getTaskState();
      last = t.name().substring("TASK_STATE_".length()).toLowerCase();
      if (t == TaskState.TASK_STATE_NONE) {
        return "already done";
      }
      if (p.operation().states.indexOf(t) >= wanted) {
        return last;
      }
      Thread.sleep(5);
    }
    return last + " (trigger not reached in 60 s)";
  }

  private static void kill(FaultPoint p) throws Exception {
    switch (p.component()) {
      case CONDUCTOR -> system.killConductor();
      case AGENT -> system.killAgent();
      case GATEWAY -> system.killGateway();
    }
  }

  private static void restart(FaultPoint p) throws Exception {
    String log = p.component().name().toLowerCase() + "-after-" + p.n();
    switch (p.component()) {
      case CONDUCTOR -> system.restartConductor(log);
      case AGENT -> system.restartAgent(log);
      case GATEWAY -> system.restartGateway(log);
    }
  }

  private static java.util.Optional<Server> safeGet(String id) {
    try {
      return java.util.Optional.of(system.get(id));
    } catch (StatusRuntimeException e) {
      return java.util.Optional.empty();
    }
  }

  /** The server once idle, or null if it is not within {@link #SETTLE}. */
  private static Server settle(String id) throws Exception {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    while (System.nanoTime() < deadline) {
      var s = safeGet(id);
      if (s.isPresent() && s.get().getTaskState() == TaskState.TASK_STATE_NONE) {
        return s.get();
      }
      Thread.sleep(100);
    }
    return null;
  }

  // ------------------------------------------------------------------ checks

  private static String checkSnapshot(FaultPoint p, Server after, String imageId,
      String expectedDigest, String domainBefore, List<String> problems) throws Exception {
    String domainNow = StratusSystem.domstate(after.getId());
    if (!domainNow.equals(domainBefore)) {
      problems.add("the guest was " + domainBefore + " before the snapshot and is " + domainNow);
    }
    Image image;
    try {
      image = system.images(StratusSystem.ADMIN).getImage(
          GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
        if (!after.hasFault() || after.getFault().getMessage().isEmpty()) {
          problems.add("the image is gone but the server records no fault");
        }
        if (reattachOrResumeApplies(p)) {
          problems.add("re-attach or resume applies here, yet the snapshot failed: "
              + after.getFault().getMessage());
        }
        return "failed cleanly";
      }
      throw e;
    }
    if (image.getStatus() != ImageStatus.IMAGE_STATUS_ACTIVE) {
      problems.add("image " + imageId + " is " + image.getStatus());
      return "image " + image.getStatus();
    }
    if (expectedDigest != null && !expectedDigest.equals(image.getContentDigest())) {
      problems.add("image content " + image.getContentDigest() + " is not the disk's "
          + expectedDigest);
    }
    return "active" + (expectedDigest != null ? ", content verified" : "");
  }

  /**
   * Where the snapshot must survive the kill: a conductor's death (its successor re-attaches
   * to the agent's operation) and a gateway's death during a streamed upload (the agent
   * resumes it). An agent's death loses its operation; a gateway's death during an RBD
   * direct import or a volume snapshot's completion may fail it, cleanly.
   */
  private static boolean reattachOrResumeApplies(FaultPoint p) {
    return p.component() == FaultPoint.Component.CONDUCTOR
        || (p.component() == FaultPoint.Component.GATEWAY
            && (p.operation() == FaultPoint.Op.LIVE_SNAPSHOT
                || p.operation() == FaultPoint.Op.COLD_SNAPSHOT));
  }

  private static String checkPower(FaultPoint p, Server after, List<String> problems) {
    VmState want = p.operation() == FaultPoint.Op.STOP ? VmState.VM_STATE_STOPPED
        : VmState.VM_STATE_ACTIVE;
    if (after.getVmState() != want) {
      problems.add("vm_state " + after.getVmState() + ", asked for " + want
          + (after.hasFault() ? " (fault: " + after.getFault().getMessage() + ")" : ""));
      return "vm_state " + after.getVmState();
    }
    return "completed";
  }

  /** The operation's action must be finished: no event left without a result. */
  private static void checkActionFinished(String id, FaultPoint p, List<String> problems) {
    List<ServerAction> actions = system.servers(MEMBER).listServerActions(
        ListServerActionsRequest.newBuilder().setServerId(id).build()).getActionsList();
    String name = switch (p.operation()) {
      case START -> "start";
      case STOP -> "stop";
      case HARD_REBOOT -> "reboot";
      default -> "createImage";
    };
    var action = actions.stream().filter(a -> a.getAction().equals(name)).findFirst();
    if (action.isEmpty()) {
      problems.add("no " + name + " action recorded");
      return;
    }
    for (var e : action.get().getEventsList()) {
      if (e.getResult().isEmpty()) {
        problems.add("action " + name + " event " + e.getEvent() + " never finished");
      }
    }
    if (action.get().getEventsList().isEmpty()) {
      problems.add("action " + name + " has no event");
    }
  }

  /** The database's vm_state must be what the hypervisor shows. */
  private static void checkHypervisorAgrees(Server after, List<String> problems) {
    String dom = StratusSystem.domstate(after.getId());
    boolean ok = switch (after.getVmState()) {
      case VM_STATE_ACTIVE -> dom.equals("running");
      case VM_STATE_STOPPED -> dom.equals("shut off");
      default -> false;
    };
    if (!ok) {
      problems.add("vm_state " + after.getVmState() + " but the domain is " + dom);
    }
  }

  private static void cleanUp(String id, String imageId, String result) throws Exception {
    system.servers(MEMBER).deleteServer(DeleteServerRequest.newBuilder().setServerId(id).build());
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      var s = safeGet(id);
      if (s.isEmpty() || s.get().getVmState() == VmState.VM_STATE_DELETED) {
        break;
      }
      Thread.sleep(100);
    }
    if (imageId != null && result.startsWith("active")) {
      system.servers(MEMBER).deleteSnapshotImage(
          DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build());
    }
  }

  /** sha256-4m of a disk's guest-visible content, as the gateway records it. */
  private static String contentDigest(Path disk) throws Exception {
    Path raw = system.root.resolve("digest-" + System.nanoTime() + ".raw");
    try {
      Process p = new ProcessBuilder("qemu-img", "convert", "-U", "-O", "raw", disk.toString(),
          raw.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("qemu-img convert: " + out);
      }
      ChunkDigest d = new ChunkDigest();
      try (FileChannel ch = FileChannel.open(raw)) {
        long size = ch.size();
        ByteBuffer buf = ByteBuffer.allocate(ChunkDigest.CHUNK);
        for (SparseFiles.Range r : SparseFiles.dataRanges(raw, size)) {
          for (long off = r.offset(); off < r.offset() + r.length(); ) {
            int n = (int) Math.min(ChunkDigest.CHUNK - off % ChunkDigest.CHUNK,
                r.offset() + r.length() - off);
            buf.clear().limit(n);
            while (buf.hasRemaining() && ch.read(buf, off + buf.position()) >= 0) {
              // fill
            }
            buf.flip();
            d.data(off, buf);
            off += n;
          }
        }
        return d.finish(size);
      }
    } finally {
      Files.deleteIfExists(raw);
    }
  }

  // ------------------------------------------------------------------ report

  private static String report(List<Outcome> outcomes) {
    StringBuilder md = new StringBuilder();
    md.append("# Fault-injection suite\n\n")
        .append("Seed ").append(SEED).append(", ").append(PER_COMPONENT)
        .append(" kill points per component, Ceph ").append(CEPH ? "on" : "off")
        .append(". Replay: `STRATUS_FAULTS_SEED=").append(SEED)
        .append(" STRATUS_FAULTS_PER_COMPONENT=").append(PER_COMPONENT)
        .append(" STRATUS_FAULTS_CEPH=").append(CEPH).append(" deploy/faults.sh`.\n\n")
        .append("Every process is killed with SIGKILL and started again; \"settle\" is the time")
        .append(" from the kill until the server had no task (bound ").append(SETTLE.toSeconds())
        .append(" s).\n\n");
    md.append("| component | points | snapshot active | snapshot failed cleanly | power op completed | with problems |\n")
        .append("|---|---|---|---|---|---|\n");
    for (FaultPoint.Component c : FaultPoint.Component.values()) {
      List<Outcome> mine = outcomes.stream().filter(o -> o.point().component() == c).toList();
      md.append("| ").append(c.name().toLowerCase()).append(" | ").append(mine.size())
          .append(" | ").append(mine.stream().filter(o -> o.result().startsWith("active")).count())
          .append(" | ").append(mine.stream().filter(o -> o.result().equals("failed cleanly")).count())
          .append(" | ").append(mine.stream().filter(o -> o.result().equals("completed")).count())
          .append(" | ").append(mine.stream().filter(o -> !o.problems().isEmpty()).count())
          .append(" |\n");
    }
    md.append("\n| # | killed | operation | trigger | delay ms | seen at kill | outcome | settle ms | problems |\n")
        .append("|---|---|---|---|---|---|---|---|---|\n");
    for (Outcome o : outcomes) {
      FaultPoint p = o.point();
      md.append("| ").append(p.n()).append(" | ").append(p.component().name().toLowerCase())
          .append(" | ").append(p.operation().name().toLowerCase())
          .append(" | ").append(p.trigger().name().substring("TASK_STATE_".length()).toLowerCase())
          .append(" | ").append(p.delayMs()).append(" | ").append(o.stateAtKill())
          .append(" | ").append(o.result()).append(" | ").append(o.settleMs())
          .append(" | ").append(o.problems().isEmpty() ? "none"
              : String.join("; ", o.problems()).replace("|", "/"))
          .append(" |\n");
    }
    return md.toString();
  }
}
