package io.stratus.agent.hypervisor.simulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.agent.disk.QemuImg;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulated hypervisor keeps libvirt's contract where the agent relies on it: power
 * changes, a missing domain, disk-only snapshots that put a real qcow2 overlay on top of
 * the disk (qemu-img sees the chain) and a commit that pivots back, no guest agent unless
 * asked for.
 */
class SimulatedHypervisorTest {
  @TempDir Path dir;

  @Test
  void domainsFollowLibvirtsContract() throws Exception {
    Path disk = dir.resolve("disk");
    Files.write(disk, new byte[1 << 20]);
    Hypervisor h = new SimulatedHypervisor();
    String uuid = "3f1c6a52-8d9e-4a0b-9c2d-1e2f3a4b5c6d";
    h.define(new Hypervisor.DomainSpec(uuid, "instance-" + uuid, 1, 64, disk, "raw"));
    assertEquals(Hypervisor.Power.SHUTDOWN, h.find(uuid).orElseThrow().power());
    h.start(uuid);
    assertEquals(Hypervisor.Power.RUNNING, h.find(uuid).orElseThrow().power());
    h.shutdown(uuid);
    assertEquals(Hypervisor.Power.SHUTDOWN, h.find(uuid).orElseThrow().power());
    h.start(uuid);

    Path overlay = dir.resolve("disk.snap");
    h.snapshotDiskOnly(uuid, "vda", overlay);
    assertEquals(overlay, h.disks(uuid).get(0).source());
    List<QemuImg.ChainLink> chain = QemuImg.chain(overlay);
    assertEquals(2, chain.size(), chain.toString());
    assertEquals(disk, chain.get(1).file());
    h.commitActive(uuid, "vda", Duration.ofSeconds(5));
    assertEquals(disk, h.disks(uuid).get(0).source());

    var noAgent = assertThrows(HypervisorException.class,
        () -> h.freezeFilesystems(uuid, Duration.ofSeconds(1)));
    assertEquals(HypervisorException.Kind.UNSUPPORTED, noAgent.kind());
    h.undefine(uuid);
    assertTrue(h.find(uuid).isEmpty());
    var gone = assertThrows(HypervisorException.class, () -> h.start(uuid));
    assertEquals(HypervisorException.Kind.NO_DOMAIN, gone.kind());
  }
}
