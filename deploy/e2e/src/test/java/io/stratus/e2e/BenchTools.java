package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the data-path benchmarks share: commands, timing, the test content, the points. */
final class BenchTools {
  static final long GIB = 1L << 30;
  static final int EXTENT = 4 << 20;
  private static final Pattern COMMITTED = Pattern.compile(
      "upload committed; image=(\\S+) upload=\\S+ bytes=(\\d+)");

  private BenchTools() {}

  /** The matrix from {@code STRATUS_BENCH_POINTS} ({@code GiB:share,…}), else {@code dflt}. */
  static List<BenchReport.Point> points(String dflt) {
    List<BenchReport.Point> out = new ArrayList<>();
    for (String p : env("STRATUS_BENCH_POINTS", dflt).split(",")) {
      String[] kv = p.split(":");
      long v = Long.parseLong(kv[0].strip()) * GIB;
      long data = (long) (v * Double.parseDouble(kv[1].strip())) / EXTENT * EXTENT;
      out.add(new BenchReport.Point(v, data));
    }
    return out;
  }

  /** CPU seconds (user + system) process {@code pid} has used so far; 0 once it is gone. */
  static double cpuSeconds(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;  // utime, stime in ticks
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  /** CPU seconds the whole machine has been busy so far (all cores, from /proc/stat). */
  static double machineBusySeconds() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).split("\\s+");
      long busy = 0;
      for (int i : new int[] {1, 2, 3, 6, 7, 8}) {  // user nice system irq softirq steal
        busy += Long.parseLong(f[i]);
      }
      return busy / 100.0;
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  /**
   * CPU seconds per named process (and the whole machine) over the run of {@code body}, as
   * "name X.XX, …" for a report fact.
   */
  static String cpuDuring(Map<String, Long> pids, ThrowingRunnable body) throws Exception {
    Map<String, Double> before = new java.util.LinkedHashMap<>();
    pids.forEach((n, pid) -> before.put(n, cpuSeconds(pid)));
    double machine = machineBusySeconds();
    body.run();
    List<String> parts = new ArrayList<>();
    pids.forEach((n, pid) -> parts.add(String.format("%s %.2f", n, cpuSeconds(pid) - before.get(n))));
    parts.add(String.format("whole machine %.2f", machineBusySeconds() - machine));
    return String.join(", ", parts);
  }

  /**
   * A live snapshot of server {@code serverId} through the public API, timed until the
   * server is idle again, as {@code contestant}'s run; its CPU seconds per process go in a
   * fact. Returns the image id.
   */
  static String snapshot(StratusSystem system, String serverId, String name,
      Map<String, Long> pids, BenchReport report, BenchReport.Point p, String contestant, int run)
      throws Exception {
    String[] imageId = new String[1];
    double[] seconds = new double[1];
    report.fact(p, "ours, CPU-s run " + run, cpuDuring(pids, () -> seconds[0] = timed(() -> {
      imageId[0] = system.servers(MEMBER).createImage(
          io.stratus.proto.conductor.v1.CreateImageRequest.newBuilder().setServerId(serverId)
              .setName(name).build()).getImageId();
      system.awaitIdle(serverId, java.time.Duration.ofMinutes(30));
    })));
    report.series(p, contestant).seconds.add(seconds[0]);
    return imageId[0];
  }

  /** The CLI launcher: {@code STRATUS_BENCH_CLI}, else the repository's. */
  static Path cli() {
    Path cli = Path.of(env("STRATUS_BENCH_CLI", "deploy/cli/stratus")).toAbsolutePath();
    return Files.exists(cli) ? cli : Path.of("../cli/stratus").toAbsolutePath();
  }

  /** Where reports go: {@code STRATUS_BENCH_REPORT_DIR}, else the repository's docs/benchmarks. */
  static Path reportDir() {
    Path dir = Path.of(env("STRATUS_BENCH_REPORT_DIR", "docs/benchmarks")).toAbsolutePath();
    return Files.isDirectory(dir.getParent()) ? dir
        : Path.of("../../docs/benchmarks").toAbsolutePath().normalize();
  }

  static String env(String name, String dflt) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? dflt : v;
  }

  static void sh(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(3600, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
  }

  static void dropCaches() throws Exception {
    sh("sync");
    Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
  }

  static double timed(ThrowingRunnable body) throws Exception {
    long t = System.nanoTime();
    body.run();
    return (System.nanoTime() - t) / 1e9;
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /** Bytes allocated on disk for a file (st_blocks × 512). */
  static long allocated(Path file) throws Exception {
    if (!Files.exists(file)) {
      return 0;
    }
    Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
    String[] out = new String(p.getInputStream().readAllBytes()).strip().split(" ");
    p.waitFor();
    return out.length == 2 ? Long.parseLong(out[0]) * Long.parseLong(out[1]) : 0;
  }

  /** A raw file of {@code size} with {@code data} bytes of random data in 4 MiB extents spread evenly. */
  static void makeBase(Path file, long size, long data) throws Exception {
    long extents = data / EXTENT;
    SplittableRandom r = new SplittableRandom(size ^ data);
    ByteBuffer buf = ByteBuffer.allocateDirect(EXTENT);
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw");
        FileChannel ch = raf.getChannel()) {
      raf.setLength(0);
      for (long i = 0; i < extents; i++) {
        long off = i * (size / EXTENT) / extents * EXTENT;
        buf.clear();
        while (buf.hasRemaining()) {
          buf.putLong(r.nextLong());
        }
        buf.flip();
        while (buf.hasRemaining()) {
          ch.write(buf, off + buf.position());
        }
      }
      raf.setLength(size);
    }
  }


  static String cliUpload(StratusSystem system, Path cli, String name, Path file)
      throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cli.toString(), "image", "upload", "--name", name,
        "--file", file.toString(), "-f", "json").redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putAll(system.cliEnv(MEMBER));
    Process proc = pb.start();
    String out = new String(proc.getInputStream().readAllBytes()).strip();
    assertTrue(proc.waitFor(3600, TimeUnit.SECONDS) && proc.exitValue() == 0, "CLI upload: " + out);
    Matcher id = Pattern.compile("\"id\"\\s*:\\s*\"([0-9a-f-]{36})\"").matcher(out);
    assertTrue(id.find(), "no image id in the CLI's output: " + out);
    return id.group(1);
  }

  static Image image(StratusSystem system, String id) {
    return system.images().getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage();
  }

  /** Data bytes the gateway received for an image, from its log. */
  static long bytesReceived(StratusSystem system, String imageId) throws Exception {
    Matcher m = COMMITTED.matcher(Files.readString(system.gateway.log));
    while (m.find()) {
      if (m.group(1).equals(imageId)) {
        return Long.parseLong(m.group(2));
      }
    }
    throw new IllegalStateException("no upload of " + imageId + " in the gateway's log");
  }
}
