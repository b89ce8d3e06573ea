package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.testkit.Libvirt;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 7's figures, run by {@code deploy/bench.sh}: a running guest whose 4 GiB disk
 * holds 2 GiB of random data in 4 MiB extents, snapshotted live into the gateway's
 * filesystem store, against {@code dd iflag=direct bs=4M} of the chain's files and
 * against Nova's way ({@code qemu-img convert} to a temp file, then a copy into the
 * store); medians of 5, page cache dropped before each run. And the agent's hard reboot
 * against the same steps with virsh.
 */
@Tag("benchmark")
class SnapshotBenchmark {
  private static final long GIB = 1L << 30;
  private static final int RUNS = 5;

  private static void dropCaches() throws Exception {
    AgentHarness.run("sync");
    Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  private static double timed(LongSupplier body) {
    long t = System.nanoTime();
    body.getAsLong();
    return (System.nanoTime() - t) / 1e9;
  }

  private static void report(String line) {
    System.out.println("[bench] " + line);
  }

  /** A raw base of {@code size} with {@code data} bytes of random data in 4 MiB extents. */
  private static void makeBase(Path file, long size, long data) throws Exception {
    int extent = 4 << 20;
    long stride = size / (data / extent);
    SplittableRandom r = new SplittableRandom(42);
    ByteBuffer buf = ByteBuffer.allocateDirect(extent);
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        FileChannel ch = raf.getChannel()) {
      for (long off = 0; off + extent <= size && off / stride * extent < data; off += stride) {
        buf.clear();
        while (buf.hasRemaining()) {
          buf.putLong(r.nextLong());
        }
        buf.flip();
        while (buf.hasRemaining()) {
          ch.write(buf, off + buf.position());
        }
      }
      raf.setLength(size);
    }
  }

  @Test
  void liveSnapshotVersusDdAndNovasWay() throws Exception {
    String uri = Libvirt.ensureRunning();
    Path root = Libvirt.scratchDir("bench-snapshot");
    try (AgentHarness h = new AgentHarness(new LibvirtHypervisor(uri), root,
        Map.of("read.threads", "4"))) {
      String baseId = h.images().createImage(CreateImageRequest.newBuilder().setName("bench-base")
          .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
      Path cache = Files.createDirectories(root.resolve("cache"));
      Path base = cache.resolve(baseId + ".raw");
      makeBase(base, 4 * GIB, 2 * GIB);
      InstanceSpec i = AgentHarness.instance(baseId).toBuilder().setRootGb(4).build();
      AgentHarness.drain(h.stub().spawn(SpawnRequest.newBuilder().setOperationId("spawn")
          .setInstance(i).build()));
      Path disk = root.resolve("instances").resolve(i.getUuid()).resolve("disk");
      long allocated = 2 * GIB;  // by construction: the base's data; the overlay is empty

      List<Double> ours = new ArrayList<>();
      List<Double> dd = new ArrayList<>();
      List<Double> nova = new ArrayList<>();
      long bytesSent = 0;
      for (int run = 0; run < RUNS; run++) {
        dropCaches();
        String imageId = h.images().createImage(CreateImageRequest.newBuilder().setName("bench")
            .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
        long[] sent = new long[1];
        ours.add(timed(() -> {
          var u = AgentHarness.drain(h.stub().snapshot(SnapshotRequest.newBuilder()
              .setOperationId("bench-" + UUID.randomUUID()).setInstance(i).setImageId(imageId)
              .setAllowLive(true).build()));
          sent[0] = u.get(u.size() - 1).getResult().getSnapshot().getBytesSent();
          return 0;
        }));
        bytesSent = sent[0];
        h.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId).build());

        dropCaches();
        dd.add(timed(() -> {
          try {
            AgentHarness.run("dd", "if=" + base, "of=/dev/null", "iflag=direct", "bs=4M", "status=none");
            AgentHarness.run("dd", "if=" + disk, "of=/dev/null", "iflag=direct", "bs=4M", "status=none");
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return 0;
        }));

        dropCaches();
        Path tmp = root.resolve("nova-snapshot.qcow2");
        Path stored = h.gatewayDir.resolve("nova-copy.qcow2");
        nova.add(timed(() -> {
          try {
            AgentHarness.run("qemu-img", "convert", "-U", "-O", "qcow2", disk.toString(), tmp.toString());
            AgentHarness.run("cp", tmp.toString(), stored.toString());
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return 0;
        }));
        Files.deleteIfExists(tmp);
        Files.deleteIfExists(stored);
      }
      assertTrue(h.hypervisor.find(i.getUuid()).orElseThrow().power() == Hypervisor.Power.RUNNING);
      report(String.format("live snapshot 4 GiB disk / 2 GiB data, medians of %d: ours %.2f s, "
          + "dd iflag=direct %.2f s, Nova convert+copy %.2f s", RUNS, median(ours), median(dd), median(nova)));
      report(String.format("ours/dd = %.2f (goal <= 1.25), nova/ours = %.2f (goal >= 2)",
          median(ours) / median(dd), median(nova) / median(ours)));
      report(String.format("bytes sent %d for %d allocated = %.4f (goal <= 1.01)", bytesSent,
          allocated, bytesSent / (double) allocated));
      report("runs: ours " + ours + " dd " + dd + " nova " + nova);
      report(String.format("JVM (agent + in-process gateway) peak RSS: %s",
          Files.readAllLines(Path.of("/proc/self/status")).stream()
              .filter(l -> l.startsWith("VmHWM")).findFirst().orElse("?")));
      AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder().setOperationId("d")
          .setInstance(i).build()));
    }
  }

  @Test
  void hardRebootVersusVirsh() throws Exception {
    String uri = Libvirt.ensureRunning();
    Path root = Libvirt.scratchDir("bench-reboot");
    try (AgentHarness h = new AgentHarness(new LibvirtHypervisor(uri), root, Map.of())) {
      String baseId = h.seedBaseImage(16L << 20, 3).getId();
      InstanceSpec i = AgentHarness.instance(baseId);
      AgentHarness.drain(h.stub().spawn(SpawnRequest.newBuilder().setOperationId("spawn")
          .setInstance(i).build()));
      String name = "instance-" + i.getUuid();
      Path xml = root.resolve("domain.xml");
      Files.writeString(xml, Libvirt.virsh("dumpxml", name));
      List<Double> ours = new ArrayList<>();
      List<Double> virsh = new ArrayList<>();
      for (int run = 0; run < RUNS; run++) {
        ours.add(timed(() -> {
          AgentHarness.drain(h.stub().reboot(RebootRequest.newBuilder()
              .setOperationId("reboot-" + UUID.randomUUID()).setInstance(i)
              .setType(RebootType.REBOOT_TYPE_HARD).build()));
          return 0;
        }));
        virsh.add(timed(() -> {
          try {
            Libvirt.virsh("destroy", name);
            Libvirt.virsh("undefine", name);
            Libvirt.virsh("define", xml.toString());
            Libvirt.virsh("start", name);
            while (!Libvirt.virsh("domstate", name).strip().equals("running")) {
              Thread.sleep(10);
            }
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return 0;
        }));
      }
      report(String.format("hard reboot, medians of %d: agent %.3f s, virsh %.3f s, ratio %.2f (goal <= 1.1)",
          RUNS, median(ours), median(virsh), median(ours) / median(virsh)));
      report("runs: agent " + ours + " virsh " + virsh);
      AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder().setOperationId("d")
          .setInstance(i).build()));
    }
  }
}
