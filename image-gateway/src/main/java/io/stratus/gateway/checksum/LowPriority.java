package io.stratus.gateway.checksum;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lowers the calling thread to the lowest CPU priority (nice 19). On Linux niceness is per
 * thread, so background work set this way takes only what the rest of the host leaves
 * idle: an upload or a snapshot running at the same time keeps its speed.
 */
final class LowPriority {
  private static final Logger LOG = LoggerFactory.getLogger(LowPriority.class);
  private static final int PRIO_PROCESS = 0;
  private static final int LOWEST = 19;

  private interface LibC extends Library {
    int setpriority(int which, int who, int prio);
  }

  private LowPriority() {}

  /** Lowers this thread; logs and carries on at normal priority where it cannot. */
  static void apply() {
    try {
      // /proc/thread-self -> "<pid>/task/<tid>"
      String link = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
      int tid = Integer.parseInt(link.substring(link.lastIndexOf('/') + 1));
      LibC c = Native.load("c", LibC.class);
      if (c.setpriority(PRIO_PROCESS, tid, LOWEST) != 0) {
        LOG.warn("could not lower the checksum thread's priority (errno {})", Native.getLastError());
      }
    } catch (Exception | LinkageError e) {
      LOG.warn("could not lower the checksum thread's priority: {}", e.toString());
    }
  }
}
