package io.stratus.agent;


import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.testkit.Libvirt;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The agent's hard reboot against the same steps with virsh, run by {@code deploy/bench.sh};
 * medians of 5. (The snapshot data path is measured end to end, every service its own
 * process, by the e2e module's {@code DataPathBenchmark}.)
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
