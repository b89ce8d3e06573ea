package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;

import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The agent's memory figure (issues 7 and 11), run by {@code deploy/bench.sh}: the
 * compute-agent as its own process with the all-in-one's 64 MiB heap, its peak RSS after
 * live snapshots of a 1 GiB and then an 8 GiB disk (each with 16 MiB of data): flat memory
 * means the second peak is no higher than the first; the goal is under 300 MiB.
 */
@Tag("benchmark")
class AgentMemoryBenchmark {

  @Test
  void agentPeakRssIsTheSameForA1And8GibDisk() throws Exception {
    try (StratusSystem system = new StratusSystem()) {
      String base = system.seedBaseImage(32L << 20);
      long[] peaks = new long[2];
      int[] sizesGib = {1, 8};
      for (int n = 0; n < 2; n++) {
        String id = system.servers(MEMBER).createServer(CreateServerRequest.newBuilder()
            .setName("mem-" + sizesGib[n]).setImageRef(base)
            .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128).setRootGb(sizesGib[n]))
            .build()).getServer().getId();
        system.awaitIdle(id, Duration.ofSeconds(120));
        long t = System.nanoTime();
        system.servers(MEMBER).createImage(CreateImageRequest.newBuilder().setServerId(id)
            .setName("mem-snap-" + sizesGib[n]).build());
        system.awaitIdle(id, Duration.ofSeconds(900));
        double seconds = (System.nanoTime() - t) / 1e9;
        peaks[n] = system.agent.peakRssKib();
        System.out.printf("[bench] agent peak RSS after a live snapshot of a %d GiB disk: %d MiB"
            + " (snapshot %.1f s)%n", sizesGib[n], peaks[n] / 1024, seconds);
      }
      System.out.printf("[bench] agent peak RSS 8 GiB vs 1 GiB disk: %+d MiB (goal: under 300 MiB"
          + " and the same)%n", (peaks[1] - peaks[0]) / 1024);
    }
  }
}
