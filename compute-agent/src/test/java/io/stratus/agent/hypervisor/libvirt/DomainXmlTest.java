package io.stratus.agent.hypervisor.libvirt;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.agent.hypervisor.Hypervisor.Disk;
import io.stratus.agent.hypervisor.Hypervisor.DomainSpec;
import io.stratus.agent.hypervisor.Hypervisor.FileDisk;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The serial console's log file and the guest agent channel in the generated XML. */
class DomainXmlTest {
  private static final String UUID = "0b5c3c1e-2a4f-4a8e-9d3c-1f2e3d4c5b6a";

  private static DomainSpec spec(boolean agent, Path log) {
    return new DomainSpec(UUID, "instance-" + UUID, 1, 256,
        List.of(new Disk("vda", new FileDisk(Path.of("/srv/i/" + UUID + "/disk"), "qcow2"))),
        agent, log);
  }

  @Test
  void theSerialConsoleIsAppendedToTheInstancesConsoleLog() {
    String xml = new DomainXml().build(spec(true, Path.of("/srv/i/a&b/console.log")));
    assertTrue(xml.contains("<serial type='pty'>\n      <log file='/srv/i/a&amp;b/console.log'"
        + " append='on'/>\n      <target port='0'/>"), xml);
    assertTrue(xml.contains("<target type='virtio' name='org.qemu.guest_agent.0'/>"), xml);
  }

  @Test
  void withoutALogOrAnAgentNeitherElementIsWritten() {
    String xml = new DomainXml().build(spec(false, null));
    assertFalse(xml.contains("<log "), xml);
    assertFalse(xml.contains("guest_agent"), xml);
    assertTrue(xml.contains("<serial type='pty'>"), xml);
  }

  @Test
  void aRelativeConsoleLogIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new DomainXml().build(spec(false, Path.of("console.log"))));
    assertTrue(e.getMessage().startsWith("the console log must be an absolute path"), e.getMessage());
  }
}
