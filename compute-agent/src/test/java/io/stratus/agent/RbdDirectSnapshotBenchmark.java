package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.gateway.store.rbd.RbdBackend;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.RootDiskKind;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.Libvirt;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 6's figure, run by {@code deploy/bench.sh}: the direct-path snapshot of a running
 * guest's 4 GiB RBD disk holding 2 GiB of random data (a copy-on-write clone of its image,
 * as after a boot) — from the agent's Snapshot call to the image active in the same Ceph
 * cluster — against the same work by hand with the rbd tool: {@code snap create},
 * {@code snap protect}, {@code clone}, {@code flatten}, {@code snap create snap},
 * {@code snap protect}. Medians of 3, alternating. Real throwaway Ceph, real qemu guest.
 */
@Tag("benchmark")
class RbdDirectSnapshotBenchmark {
  private static final int RUNS = 3;

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  @Test
  void directSnapshotAgainstSnapCloneFlattenByHand() throws Exception {
    String uri = Libvirt.ensureRunning();
    try (CephCluster ceph = CephCluster.start()) {
      Path root = Libvirt.scratchDir("rbd-bench");
      Path clientConf = ceph.writeClientConf(root);
      try (AgentHarness h = new AgentHarness(new LibvirtHypervisor(uri), root,
          Map.of("ceph.conf", clientConf.toString(), "ceph.pool", ceph.diskPool()),
          new RbdBackend(ceph.conf(), ceph.imagePool(), Clock.systemUTC()))) {
        String base = h.seedBaseImage(4L << 30, 3).getId();
        InstanceSpec i = AgentHarness.instance(base).toBuilder()
            .setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD).build();
        AgentHarness.drain(h.stub().spawn(SpawnRequest.newBuilder()
            .setOperationId("spawn").setInstance(i).build()));
        String disk = ceph.diskPool() + "/" + RbdDisks.diskName(i.getUuid());
        List<Double> direct = new ArrayList<>();
        List<Double> byHand = new ArrayList<>();
        try {
          for (int run = 0; run < RUNS; run++) {
            String imageId = h.images().createImage(CreateImageRequest.newBuilder()
                .setName("bench").setDiskFormat("raw").setContainerFormat("bare").build())
                .getImage().getId();
            long t = System.nanoTime();
            List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshot(
                SnapshotRequest.newBuilder().setOperationId("bench-" + UUID.randomUUID())
                    .setInstance(i).setImageId(imageId).setAllowLive(true).build()));
            direct.add((System.nanoTime() - t) / 1e9);
            assertEquals(0, updates.get(updates.size() - 1).getResult().getSnapshot().getBytesSent());
            h.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId).build());

            String target = ceph.imagePool() + "/manual-" + run;
            String snap = disk + "@manual-" + run;
            t = System.nanoTime();
            rbd(ceph, "snap", "create", snap);
            rbd(ceph, "snap", "protect", snap);
            rbd(ceph, "clone", snap, target);
            rbd(ceph, "flatten", "--no-progress", target);
            rbd(ceph, "snap", "create", target + "@snap");
            rbd(ceph, "snap", "protect", target + "@snap");
            byHand.add((System.nanoTime() - t) / 1e9);
            rbd(ceph, "snap", "unprotect", target + "@snap");
            rbd(ceph, "snap", "rm", "--no-progress", target + "@snap");
            rbd(ceph, "rm", "--no-progress", target);
            rbd(ceph, "snap", "unprotect", snap);
            rbd(ceph, "snap", "rm", "--no-progress", snap);
          }
        } finally {
          AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder()
              .setOperationId("bench-destroy").setInstance(i).build()));
        }
        double d = median(direct);
        double m = median(byHand);
        System.out.printf("[bench] rbd direct snapshot, 4 GiB disk with 2 GiB data: agent %.2f s"
            + " (runs %s), rbd snap+protect+clone+flatten+snap by hand %.2f s (runs %s),"
            + " ratio %.2f (goal <= 1.1)%n", d, direct, m, byHand, d / m);
      }
    }
  }

  private static void rbd(CephCluster ceph, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("rbd", "-c", ceph.conf().toString()));
    cmd.addAll(List.of(args));
    AgentHarness.run(cmd.toArray(String[]::new));
  }
}
