package io.stratus.agent.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared read buffers come back when an upload stops half-way (a gateway restart, a
 * cancel): closing a reader returns those of every chunk read ahead, so the next snapshot
 * finds the pool full. (Before, each broken upload kept its buffers and, after a few, the
 * agent's snapshots waited for ever.)
 */
class ParallelReaderTest {
  @TempDir Path dir;

  @Test
  @org.junit.jupiter.api.Timeout(60)  // a leaking reader makes the next one wait for ever
  void closingAReaderHalfWayGivesEveryBufferBack() throws Exception {
    Path raw = dir.resolve("disk.raw");
    int chunk = 4 << 20;
    try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
      f.setLength(40L * chunk);
    }
    List<QemuImg.MapEntry> map = List.of(new QemuImg.MapEntry(0, 40L * chunk, 0, true, 0, true));
    ExtentPlan plan = ExtentPlan.of(List.of(new QemuImg.ChainLink(0, raw, "raw", 40L * chunk)),
        map, chunk);
    int before = ParallelReader.sharedBuffersFree();
    for (int round = 0; round < 5; round++) {  // more rounds than the pool has buffers
      ParallelReader reader = new ParallelReader(plan, 2, 8);
      List<DiskReader.Piece> held = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        DiskReader.Piece p = reader.next();
        assertNotNull(p);
        held.add(p);  // handed out: its consumer releases it (as the streamer does)
      }
      reader.close();
      held.forEach(p -> p.release().run());
      assertEquals(before, ParallelReader.sharedBuffersFree(), "round " + round);
    }
  }
}
