package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.Hypervisor.Disk;
import io.stratus.agent.hypervisor.Hypervisor.DiskSource;
import io.stratus.agent.hypervisor.Hypervisor.DomainSpec;
import io.stratus.agent.hypervisor.Hypervisor.FileDisk;
import io.stratus.agent.hypervisor.Hypervisor.RbdDisk;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * Builds libvirt domain XML from a {@link DomainSpec}, the way Nova regenerates it on every
 * power-on: an x86_64 HVM guest with the root disk as virtio {@code vda} and a serial console.
 * The same XML is accepted by {@code test:///default}, which ignores most devices.
 *
 * <p>The domain type is {@value #DEFAULT_DOMAIN_TYPE} (TCG, works everywhere) unless the
 * agent's configuration says {@code kvm}.
 */
public final class DomainXml {

  /** The domain type used unless configured otherwise: TCG emulation. */
  public static final String DEFAULT_DOMAIN_TYPE = "qemu";

  private static final Set<String> DOMAIN_TYPES = Set.of("qemu", "kvm");
  private static final Set<String> DISK_FORMATS = Set.of("qcow2", "raw");

  private final String domainType;

  /** XML for TCG guests ({@value #DEFAULT_DOMAIN_TYPE}). */
  public DomainXml() {
    this(DEFAULT_DOMAIN_TYPE);
  }

  /**
   * XML for guests of the given domain type.
   *
   * @param domainType {@code qemu} (TCG) or {@code kvm}
   * @throws IllegalArgumentException for any other type
   */
  public DomainXml(String domainType) {
    Objects.requireNonNull(domainType, "domainType");
    if (!DOMAIN_TYPES.contains(domainType)) {
      throw new IllegalArgumentException(
          "domain type must be one of " + DOMAIN_TYPES + ", not '" + domainType + "'");
    }
    this.domainType = domainType;
  }

  /** The libvirt domain type this builder writes ({@code qemu} or {@code kvm}). */
  public String domainType() {
    return domainType;
  }

  /**
   * The domain XML for {@code spec}.
   *
   * @throws IllegalArgumentException if the spec is not usable (bad UUID, blank name,
   *     non-positive sizes, relative disk path, disk format other than qcow2/raw)
   */
  public String build(DomainSpec spec) {
    validate(spec);
    String memory = Integer.toString(spec.memoryMb());
    return """
        <domain type='%s'>
          <name>%s</name>
          <uuid>%s</uuid>
          <memory unit='MiB'>%s</memory>
          <currentMemory unit='MiB'>%s</currentMemory>
          <vcpu placement='static'>%d</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
            <boot dev='hd'/>
          </os>
          <features>
            <acpi/>
            <apic/>
          </features>
          <clock offset='utc'/>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
        %s
            <serial type='pty'>
        %s      <target port='0'/>
            </serial>
            <console type='pty'>
              <target type='serial' port='0'/>
            </console>
          </devices>
        </domain>
        """.formatted(domainType, XmlText.escape(spec.name()), spec.uuid(), memory, memory,
        spec.vcpus(), devices(spec), consoleLog(spec));
  }

  /** The serial console's log file element, when the spec names one. */
  private static String consoleLog(DomainSpec spec) {
    if (spec.consoleLog() == null) {
      return "";
    }
    // append: what the guest printed before a reboot or a stop stays readable afterwards
    return "      <log file='%s' append='on'/>\n".formatted(
        XmlText.escape(spec.consoleLog().toString()));
  }

  /** The disks, then the guest agent channel when the guest has one. */
  private static String devices(DomainSpec spec) {
    StringBuilder b = new StringBuilder();
    for (Disk d : spec.disks()) {
      b.append(disk(d.source(), d.target()));
    }
    if (spec.guestAgent()) {
      // libvirt picks the socket path and connects to it itself (virDomainFSFreeze).
      b.append("""
              <channel type='unix'>
                <source mode='bind'/>
                <target type='virtio' name='org.qemu.guest_agent.0'/>
              </channel>
          """);
    }
    return b.toString();
  }

  /** One virtio disk element for {@code source} as {@code target}. */
  static String disk(DiskSource source, String target) {
    return switch (source) {
      case FileDisk f -> """
              <disk type='file' device='disk'>
                <driver name='qemu' type='%s'/>
                <source file='%s'/>
                <target dev='%s' bus='virtio'/>
              </disk>
          """.formatted(f.format(), XmlText.escape(f.path().toString()), target);
      // qemu's own librbd reaches the cluster through its ceph.conf; writeback is what
      // Nova uses for RBD (librbd's cache honours the guest's flushes).
      case RbdDisk r -> """
              <disk type='network' device='disk'>
                <driver name='qemu' type='raw' cache='writeback' discard='unmap'/>
                <source protocol='rbd' name='%s/%s'>
                  <config file='%s'/>
                </source>
                <target dev='%s' bus='virtio'/>
              </disk>
          """.formatted(XmlText.escape(r.pool()), XmlText.escape(r.image()),
          XmlText.escape(r.cephConf().toString()), target);
    };
  }

  private static void validate(DomainSpec spec) {
    Objects.requireNonNull(spec, "spec");
    try {
      UUID.fromString(Objects.requireNonNull(spec.uuid(), "uuid"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a UUID: '" + spec.uuid() + "'", e);
    }
    require(spec.name() != null && !spec.name().isBlank(), "name must not be blank", spec);
    require(spec.vcpus() > 0, "vcpus must be positive", spec);
    require(spec.memoryMb() > 0, "memoryMb must be positive", spec);
    require(spec.root() != null, "a root disk is required", spec);
    require(spec.consoleLog() == null || spec.consoleLog().isAbsolute(),
        "the console log must be an absolute path", spec);
    java.util.Set<String> targets = new java.util.HashSet<>();
    for (Disk d : spec.disks()) {
      require(d.target() != null && d.target().matches("vd[a-z]") && targets.add(d.target()),
          "disk targets must be distinct vda..vdz", spec);
      switch (d.source()) {
        case FileDisk f -> {
          require(f.path() != null && f.path().isAbsolute(), "rootDisk must be an absolute path", spec);
          require(DISK_FORMATS.contains(f.format()), "diskFormat must be one of " + DISK_FORMATS, spec);
        }
        case RbdDisk r -> {
          require(r.pool() != null && !r.pool().isBlank() && r.image() != null
              && !r.image().isBlank(), "an rbd disk needs a pool and an image", spec);
          require(r.cephConf() != null && r.cephConf().isAbsolute(),
              "an rbd disk needs an absolute ceph.conf path", spec);
        }
      }
    }
  }

  private static void require(boolean condition, String message, DomainSpec spec) {
    if (!condition) {
      throw new IllegalArgumentException(message + ": " + spec);
    }
  }
}
