package io.stratus.agent.hypervisor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The agent's narrow view of the hypervisor (STYLE 11): the verbs the agent needs and
 * nothing of libvirt's types. Every method fails with {@link HypervisorException}; a
 * missing domain is {@link HypervisorException.Kind#NO_DOMAIN}. Implementations must be
 * thread-safe.
 */
public interface Hypervisor extends AutoCloseable {

  /** Nova's power states, as the hypervisor reports them. */
  enum Power {
    NOSTATE,
    RUNNING,
    PAUSED,
    SHUTDOWN,
    CRASHED,
    SUSPENDED
  }

  /** A domain as the hypervisor sees it. */
  record DomainInfo(String uuid, String name, Power power, boolean persistent,
      boolean hasManagedSave) {}

  /** One disk of a domain, from its live definition. */
  record DiskInfo(String target, Path source, String format) {}

  /** Where a disk's bytes are. */
  sealed interface DiskSource permits FileDisk, RbdDisk {}

  /** A file on the host in {@code format} (qcow2 or raw). */
  record FileDisk(Path path, String format) implements DiskSource {}

  /**
   * An RBD image {@code pool/image}, reached by qemu's own librbd with the cluster's
   * {@code cephConf} (Nova {@code images_type=rbd}).
   */
  record RbdDisk(String pool, String image, Path cephConf) implements DiskSource {}

  /** One virtio disk of a domain: guest device {@code target} (vda, vdb, …) on {@code source}. */
  record Disk(String target, DiskSource source) {}

  /**
   * What to define: a domain built from the instance record (Nova regenerates the XML on
   * every power-on): its virtio {@code disks}, the first being the boot disk, and, when
   * {@code guestAgent}, the qemu guest agent channel {@code org.qemu.guest_agent.0}. The
   * serial console's output is appended to {@code consoleLog} when it is not null (Nova's
   * {@code console.log}: what the guest printed, kept across power cycles).
   */
  record DomainSpec(String uuid, String name, int vcpus, int memoryMb, List<Disk> disks,
      boolean guestAgent, Path consoleLog) {
    public DomainSpec {
      disks = List.copyOf(disks);
    }

    /** A domain with one disk, {@code root} as vda, no guest agent and no console log. */
    public DomainSpec(String uuid, String name, int vcpus, int memoryMb, DiskSource root) {
      this(uuid, name, vcpus, memoryMb, List.of(new Disk("vda", root)), false, null);
    }

    /** A domain whose root disk is the file {@code rootDisk} in {@code diskFormat}. */
    public DomainSpec(String uuid, String name, int vcpus, int memoryMb, Path rootDisk,
        String diskFormat) {
      this(uuid, name, vcpus, memoryMb, new FileDisk(rootDisk, diskFormat));
    }

    /** The boot disk's source. */
    public DiskSource root() {
      return disks.isEmpty() ? null : disks.get(0).source();
    }

    /** The boot disk's file, or {@code null} when it is not a file. */
    public Path rootDisk() {
      return root() instanceof FileDisk f ? f.path() : null;
    }
  }

  /** The connection URI, e.g. {@code qemu:///system} or {@code test:///default}. */
  String uri();

  /** The domain with this UUID, if defined or running. */
  Optional<DomainInfo> find(String uuid);

  /** Every domain on the host. */
  List<DomainInfo> list();

  /** Defines (or redefines) a persistent domain from the spec. */
  void define(DomainSpec spec);

  /** Removes the definition (and any managed-save image); disks are kept. No-op if absent. */
  void undefine(String uuid);

  /** Boots a defined domain (restoring its managed-save image if it has one). */
  void start(String uuid);

  /** Powers off at once. No-op if not running. */
  void destroy(String uuid);

  /** Asks the guest to shut down (ACPI); returns at once. */
  void shutdown(String uuid);

  /** Pauses the vCPUs (Nova's pause). */
  void suspend(String uuid);

  /** Unpauses. */
  void resume(String uuid);

  /** Saves memory to the managed-save image and stops the domain (Nova's suspend). */
  void managedSave(String uuid);

  /** The domain's disks from its live definition. */
  List<DiskInfo> disks(String uuid);

  /**
   * External disk-only snapshot of one disk (atomic, no metadata): from now on the guest
   * writes to {@code overlay} (qcow2 on top of the current image), and the image below is
   * immutable and consistent on disk. Works on running and paused domains.
   */
  void snapshotDiskOnly(String uuid, String target, Path overlay);

  /**
   * Active block commit of the top image of {@code target} into the image below it
   * (shallow), then pivot: the guest writes to the original image again and the overlay
   * can be deleted. Waits until done or {@code timeout}.
   */
  void commitActive(String uuid, String target, Duration timeout);

  /**
   * Freezes every filesystem of the running guest through its qemu guest agent (Nova's
   * quiesce), waiting at most {@code timeout} for the agent; returns how many were frozen.
   * {@link HypervisorException.Kind#UNSUPPORTED} when the domain has no guest agent or it
   * is not connected; FAILED when the agent refused or did not answer in time.
   */
  int freezeFilesystems(String uuid, Duration timeout);

  /** Thaws the guest's filesystems; safe to repeat. Errors as {@link #freezeFilesystems}. */
  int thawFilesystems(String uuid, Duration timeout);

  @Override
  void close();
}
