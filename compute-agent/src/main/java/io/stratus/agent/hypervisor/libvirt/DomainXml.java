package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.Hypervisor.DomainSpec;
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
            <disk type='file' device='disk'>
              <driver name='qemu' type='%s'/>
              <source file='%s'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <serial type='pty'>
              <target port='0'/>
            </serial>
            <console type='pty'>
              <target type='serial' port='0'/>
            </console>
          </devices>
        </domain>
        """.formatted(domainType, XmlText.escape(spec.name()), spec.uuid(), memory, memory,
        spec.vcpus(), spec.diskFormat(), XmlText.escape(spec.rootDisk().toString()));
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
    require(spec.rootDisk() != null && spec.rootDisk().isAbsolute(),
        "rootDisk must be an absolute path", spec);
    require(DISK_FORMATS.contains(spec.diskFormat()),
        "diskFormat must be one of " + DISK_FORMATS, spec);
  }

  private static void require(boolean condition, String message, DomainSpec spec) {
    if (!condition) {
      throw new IllegalArgumentException(message + ": " + spec);
    }
  }
}
