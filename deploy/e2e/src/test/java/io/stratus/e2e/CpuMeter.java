package io.stratus.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Where a benchmark phase's CPU went: seconds (user + system, with reaped children, so an
 * agent's qemu-img runs count as the agent's) per group of processes, against the whole
 * machine's busy seconds and its capacity (cores × wall time).
 */
final class CpuMeter {
  private final Map<String, Supplier<List<Long>>> groups = new LinkedHashMap<>();

  /** Adds a group of processes, found anew at each reading. */
  CpuMeter group(String name, Supplier<List<Long>> pids) {
    groups.put(name, pids);
    return this;
  }

  /** Every process whose command name is {@code comm}, e.g. postgres. */
  static List<Long> byCommand(String comm) {
    List<Long> out = new ArrayList<>();
    try (var procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path p : procs) {
        try {
          if (Files.readString(p.resolve("comm")).strip().equals(comm)) {
            out.add(Long.parseLong(p.getFileName().toString()));
          }
        } catch (IOException | RuntimeException gone) {
          // exited meanwhile
        }
      }
    } catch (IOException e) {
      return out;
    }
    return out;
  }

  private static double seconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13])
          + Long.parseLong(f[14])) / 100.0;
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** A reading. */
  record Reading(Map<String, Double> groups, double machine, long nanos) {}

  Reading read() {
    Map<String, Double> g = new LinkedHashMap<>();
    groups.forEach((name, pids) -> g.put(name,
        pids.get().stream().mapToDouble(CpuMeter::seconds).sum()));
    return new Reading(g, BenchTools.machineBusySeconds(), System.nanoTime());
  }

  /** What happened between two readings, as "conductor 31 %, …" of the machine's capacity. */
  static String between(Reading a, Reading b) {
    double wall = (b.nanos() - a.nanos()) / 1e9;
    double capacity = wall * Runtime.getRuntime().availableProcessors();
    List<String> parts = new ArrayList<>();
    a.groups().forEach((name, before) -> parts.add(String.format("%s %.0f %%", name,
        100 * (b.groups().get(name) - before) / capacity)));
    parts.add(String.format("whole machine busy %.0f %%", 100 * (b.machine() - a.machine())
        / capacity));
    return String.join(", ", parts) + String.format(" (of %d cores × %.0f s)",
        Runtime.getRuntime().availableProcessors(), wall);
  }
}
