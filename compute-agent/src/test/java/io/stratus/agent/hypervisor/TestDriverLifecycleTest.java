package io.stratus.agent.hypervisor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.agent.hypervisor.Hypervisor.DiskInfo;
import io.stratus.agent.hypervisor.Hypervisor.DomainInfo;
import io.stratus.agent.hypervisor.Hypervisor.DomainSpec;
import io.stratus.agent.hypervisor.Hypervisor.Power;
import io.stratus.agent.hypervisor.HypervisorException.Kind;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The adapter against libvirt's in-process test driver ({@code test:///default}, no daemon):
 * the lifecycle verbs, Nova's power-state mapping and the error kinds.
 */
class TestDriverLifecycleTest {

  private static final String URI = "test:///default";

  private LibvirtHypervisor hypervisor;
  private final List<String> created = new ArrayList<>();

  @BeforeEach
  void connect() {
    hypervisor = new LibvirtHypervisor(URI);
  }

  @AfterEach
  void cleanUp() {
    try {
      for (String uuid : created) {
        if (hypervisor.find(uuid).isPresent()) {
          hypervisor.destroy(uuid);
        }
        hypervisor.undefine(uuid);
        assertEquals(Optional.empty(), hypervisor.find(uuid));
      }
    } finally {
      hypervisor.close();
    }
  }

  @Test
  void lifecycleFollowsNovaPowerStates() {
    DomainSpec spec = spec("/var/lib/stratus/instances/a/disk");
    hypervisor.define(spec);

    assertState(spec, Power.SHUTDOWN, false);
    assertTrue(hypervisor.find(spec.uuid()).orElseThrow().persistent());
    assertTrue(hypervisor.list().stream().anyMatch(d -> d.uuid().equals(spec.uuid())));

    hypervisor.start(spec.uuid());
    assertState(spec, Power.RUNNING, false);

    hypervisor.suspend(spec.uuid());
    assertState(spec, Power.PAUSED, false);

    hypervisor.resume(spec.uuid());
    assertState(spec, Power.RUNNING, false);

    hypervisor.managedSave(spec.uuid());
    assertState(spec, Power.SHUTDOWN, true);

    hypervisor.start(spec.uuid());
    assertState(spec, Power.RUNNING, false);

    hypervisor.destroy(spec.uuid());
    assertState(spec, Power.SHUTDOWN, false);
    hypervisor.destroy(spec.uuid()); // not running: no-op
    assertState(spec, Power.SHUTDOWN, false);

    hypervisor.undefine(spec.uuid());
    assertEquals(Optional.empty(), hypervisor.find(spec.uuid()));
    assertFalse(hypervisor.list().stream().anyMatch(d -> d.uuid().equals(spec.uuid())));
    hypervisor.undefine(spec.uuid()); // absent: no-op
  }

  @Test
  void defineRedefinesAnExistingDomain() {
    DomainSpec first = spec("/var/lib/stratus/instances/b/disk");
    hypervisor.define(first);
    DomainSpec second = new DomainSpec(first.uuid(), first.name(), 2, 256,
        Path.of("/var/lib/stratus/instances/b/disk.raw"), "raw");
    hypervisor.define(second);

    assertEquals(List.of(new DiskInfo("vda", second.rootDisk(), "raw")),
        hypervisor.disks(first.uuid()));
    assertEquals(1, hypervisor.list().stream().filter(d -> d.uuid().equals(first.uuid())).count());
  }

  @Test
  void disksComeFromTheDefinition() {
    DomainSpec spec = spec("/var/lib/stratus/instances/c/disk");
    hypervisor.define(spec);
    hypervisor.start(spec.uuid());

    assertEquals(List.of(new DiskInfo("vda", spec.rootDisk(), "qcow2")),
        hypervisor.disks(spec.uuid()));
  }

  @Test
  void undefineRemovesTheManagedSaveImage() {
    DomainSpec spec = spec("/var/lib/stratus/instances/d/disk");
    hypervisor.define(spec);
    hypervisor.start(spec.uuid());
    hypervisor.managedSave(spec.uuid());
    assertState(spec, Power.SHUTDOWN, true);

    hypervisor.undefine(spec.uuid());

    assertEquals(Optional.empty(), hypervisor.find(spec.uuid()));
  }

  @Test
  void unknownDomainIsNoDomain() {
    String uuid = UUID.randomUUID().toString();

    assertEquals(Optional.empty(), hypervisor.find(uuid));
    hypervisor.undefine(uuid); // no-op
    assertNoDomain(uuid, "start", () -> hypervisor.start(uuid));
    assertNoDomain(uuid, "destroy", () -> hypervisor.destroy(uuid));
    assertNoDomain(uuid, "shutdown", () -> hypervisor.shutdown(uuid));
    assertNoDomain(uuid, "suspend", () -> hypervisor.suspend(uuid));
    assertNoDomain(uuid, "resume", () -> hypervisor.resume(uuid));
    assertNoDomain(uuid, "managed save", () -> hypervisor.managedSave(uuid));
    assertNoDomain(uuid, "list disks", () -> hypervisor.disks(uuid));
    assertNoDomain(uuid, "disk-only snapshot of vda",
        () -> hypervisor.snapshotDiskOnly(uuid, "vda", Path.of("/tmp/overlay.qcow2")));
    assertNoDomain(uuid, "active commit of vda",
        () -> hypervisor.commitActive(uuid, "vda", Duration.ofSeconds(1)));
  }

  @Test
  void diskSnapshotsAndBlockCommitAreUnsupported() {
    DomainSpec spec = spec("/var/lib/stratus/instances/e/disk");
    hypervisor.define(spec);
    hypervisor.start(spec.uuid());

    HypervisorException snapshot = assertThrows(HypervisorException.class,
        () -> hypervisor.snapshotDiskOnly(spec.uuid(), "vda", Path.of("/tmp/e-overlay.qcow2")));
    assertEquals(Kind.UNSUPPORTED, snapshot.kind(), snapshot.getMessage());
    assertTrue(snapshot.getMessage().startsWith(
        "disk-only snapshot of vda of domain " + spec.uuid() + ": unsupported flags"),
        snapshot.getMessage());

    HypervisorException commit = assertThrows(HypervisorException.class,
        () -> hypervisor.commitActive(spec.uuid(), "vda", Duration.ofSeconds(1)));
    assertEquals(Kind.UNSUPPORTED, commit.kind(), commit.getMessage());
    assertTrue(commit.getMessage().startsWith("active commit of vda of domain " + spec.uuid()),
        commit.getMessage());
    assertState(spec, Power.RUNNING, false);
  }

  @Test
  void snapshotOfAMissingDiskFails() {
    DomainSpec spec = spec("/var/lib/stratus/instances/f/disk");
    hypervisor.define(spec);

    HypervisorException e = assertThrows(HypervisorException.class,
        () -> hypervisor.snapshotDiskOnly(spec.uuid(), "vdz", Path.of("/tmp/f-overlay.qcow2")));
    assertEquals(Kind.FAILED, e.kind());
    assertTrue(e.getMessage().endsWith("it has no disk vdz"), e.getMessage());
  }

  @Test
  void invalidTransitionsFailWithLibvirtsMessage() {
    DomainSpec spec = spec("/var/lib/stratus/instances/g/disk");
    hypervisor.define(spec);

    HypervisorException e = assertThrows(HypervisorException.class,
        () -> hypervisor.suspend(spec.uuid()));
    assertEquals(Kind.FAILED, e.kind());
    assertTrue(e.getMessage().startsWith("suspend of domain " + spec.uuid() + ": "),
        e.getMessage());
    assertTrue(e.getMessage().contains("not running"), e.getMessage());
  }

  @Test
  void concurrentCallsShareTheConnection() throws Exception {
    DomainSpec spec = spec("/var/lib/stratus/instances/h/disk");
    hypervisor.define(spec);
    hypervisor.start(spec.uuid());
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        futures.add(pool.submit(() -> {
          for (int j = 0; j < 50; j++) {
            assertEquals(Power.RUNNING, hypervisor.find(spec.uuid()).orElseThrow().power());
            assertFalse(hypervisor.list().isEmpty());
            assertEquals(1, hypervisor.disks(spec.uuid()).size());
          }
          return null;
        }));
      }
      for (Future<?> future : futures) {
        future.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void callsAfterCloseFail() {
    LibvirtHypervisor other = new LibvirtHypervisor(URI);
    assertEquals(URI, other.uri());
    other.close();
    other.close(); // idempotent

    HypervisorException e = assertThrows(HypervisorException.class, other::list);
    assertEquals(Kind.FAILED, e.kind());
    assertEquals("list domains: connection to test:///default is closed", e.getMessage());
  }

  private DomainSpec spec(String disk) {
    String uuid = UUID.randomUUID().toString();
    created.add(uuid);
    return new DomainSpec(uuid, "stratus-test-" + uuid.substring(0, 8), 1, 128, Path.of(disk),
        "qcow2");
  }

  private void assertState(DomainSpec spec, Power power, boolean managedSave) {
    DomainInfo info = hypervisor.find(spec.uuid()).orElseThrow();
    assertEquals(new DomainInfo(spec.uuid(), spec.name(), power, true, managedSave), info);
  }

  private static void assertNoDomain(String uuid, String verb, Executable call) {
    HypervisorException e = assertThrows(HypervisorException.class, call);
    assertEquals(Kind.NO_DOMAIN, e.kind(), e.getMessage());
    assertTrue(e.getMessage().startsWith(verb + " of domain " + uuid + ": "), e.getMessage());
    assertTrue(e.getMessage().contains("Domain not found"), e.getMessage());
  }
}
