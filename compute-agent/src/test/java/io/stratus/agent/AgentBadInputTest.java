package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.testkit.BadInputSweep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every method of {@code agent.v1.ComputeAgent}, read from its descriptor, called with a
 * malformed value in each field (see {@link BadInputSweep}) on the real agent over libvirt's
 * {@code test:///default} driver: no call answers UNKNOWN or INTERNAL, no domain is defined
 * and nothing is written under the instances or image-cache directories.
 */
class AgentBadInputTest {
  @TempDir Path root;

  @Test
  void noMalformedCallAnswersUnknownOrInternalOrLeavesAnything() throws Exception {
    try (AgentHarness h = new AgentHarness(new LibvirtHypervisor("test:///default"), root,
        Map.of())) {
      int domains = h.hypervisor.list().size();
      List<BadInputSweep.Outcome> outcomes = BadInputSweep.sweep(h.agentChannel,
          ComputeAgentGrpc.getServiceDescriptor(), new Metadata(), method -> false);
      List<BadInputSweep.Outcome> bad = BadInputSweep.failures(outcomes);
      assertTrue(bad.isEmpty(), BadInputSweep.describe(bad, outcomes.size()));
      System.out.println("[sweep] agent.v1.ComputeAgent: " + outcomes.size()
          + " malformed calls, 0 UNKNOWN/INTERNAL");
      assertEquals(domains, h.hypervisor.list().size(), "domains");
      assertEquals(0, files(root.resolve("instances")), "instance files");
      assertEquals(0, files(root.resolve("cache")), "image-cache files");
    }
  }

  private static long files(Path dir) throws Exception {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).count();
    }
  }
}
