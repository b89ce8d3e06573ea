package io.stratus.agent.hypervisor.libvirt;

import java.nio.file.Path;

/**
 * The {@code <domainsnapshot>} XML for an external, disk-only snapshot of one disk: that disk
 * gets a new qcow2 overlay (created by libvirt), every other disk is left out explicitly
 * ({@code snapshot='no'}) because libvirt would otherwise snapshot it too.
 */
final class DiskSnapshotXml {
  private DiskSnapshotXml() {}

  /** Snapshot XML for {@code target} → {@code overlay}, excluding the other disks of the domain. */
  static String build(DomainDisks disks, String target, Path overlay) {
    StringBuilder xml = new StringBuilder("<domainsnapshot>\n  <disks>\n");
    for (DomainDisks.Disk disk : disks.all()) {
      String name = XmlText.escape(disk.target());
      if (disk.target().equals(target)) {
        xml.append("    <disk name='").append(name).append("' snapshot='external' type='file'>\n")
            .append("      <driver type='qcow2'/>\n")
            .append("      <source file='").append(XmlText.escape(overlay.toString()))
            .append("'/>\n")
            .append("    </disk>\n");
      } else {
        xml.append("    <disk name='").append(name).append("' snapshot='no'/>\n");
      }
    }
    return xml.append("  </disks>\n</domainsnapshot>\n").toString();
  }
}
