package io.stratus.e2e;

import static io.stratus.e2e.BenchTools.allocated;
import static io.stratus.e2e.BenchTools.bytesReceived;
import static io.stratus.e2e.BenchTools.cliUpload;
import static io.stratus.e2e.BenchTools.dropCaches;
import static io.stratus.e2e.BenchTools.env;
import static io.stratus.e2e.BenchTools.image;
import static io.stratus.e2e.BenchTools.makeBase;
import static io.stratus.e2e.BenchTools.sh;
import static io.stratus.e2e.BenchTools.timed;
import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 11's end-to-end data-path benchmark ({@code deploy/bench.sh DataPathBenchmark}):
 * the conductor, the image-gateway (filesystem store) and one compute-agent, each its own
 * process as the all-in-one runs them, on the real libvirtd + qemu (TCG). For each point of
 * the matrix (virtual size × allocated share, random data in 4 MiB extents spread over a
 * raw base, the instance a qcow2 overlay on it, the guest running), side by side in the
 * same run, page cache dropped before every contestant, medians of {@code RUNS}:
 * <ul>
 *   <li>uploads: {@code stratus image upload} (the CLI, as a user runs it) against {@code
 *       cp} + {@code sync} of the same file into the store's directory;</li>
 *   <li>snapshots, driven through the public API until the image is active: ours against
 *       {@code dd iflag=direct} of the chain (read only), the one-pass limit ({@code
 *       qemu-img convert -U} straight into the store's directory + sync) and Nova's way
 *       ({@code qemu-img convert} to a temp qcow2, copy into the store, sync).</li>
 * </ul>
 * Writes {@code docs/benchmarks/data-path.md} with PNG plots. Environment: {@code
 * STRATUS_BENCH_POINTS} (default {@code 4:0.1,4:0.4,4:0.5,4:1,16:0.1,16:0.5,16:1}, GiB:share),
 * {@code STRATUS_BENCH_RUNS} (5), {@code STRATUS_BENCH_RUNS_BIG} (runs at 16 GiB points;
 * default the same), {@code STRATUS_BENCH_REPORT_DIR}.
 */
@Tag("benchmark")
class DataPathBenchmark {

  static final String OURS = "ours (snapshot)";
  static final String DD = "dd iflag=direct (read only)";
  static final String ONE_PASS = "one-pass limit (qemu-img convert + sync)";
  static final String NOVA = "Nova's way (convert to temp + cp + sync)";
  static final String CLI_UPLOAD = "stratus image upload";
  static final String CP = "cp + sync";

  private final int runs = Integer.parseInt(env("STRATUS_BENCH_RUNS", "5"));
  /** Runs at points of 16 GiB and more (each takes minutes: the data, and md5 + sha512 after). */
  private final int bigRuns = Integer.parseInt(env("STRATUS_BENCH_RUNS_BIG", Integer.toString(runs)));

  private int runsAt(BenchReport.Point p) {
    return p.virtualBytes() >= 16 * BenchTools.GIB ? bigRuns : runs;
  }

  private static List<BenchReport.Point> points() {
    return BenchTools.points("4:0.1,4:0.4,4:0.5,4:1,16:0.1,16:0.5,16:1");
  }

  @Test
  void snapshotsAndUploadsAgainstDdTheOnePassLimitAndNovasWay() throws Exception {
    BenchReport report = new BenchReport();
    Path cli = BenchTools.cli();
    Instant started = Instant.now();
    Path dir = BenchTools.reportDir();
    try (StratusSystem system = new StratusSystem()) {
      Path work = Files.createDirectories(system.root.resolve("bench"));
      Path store = system.root.resolve("store");
      for (BenchReport.Point p : points()) {
        Path base = work.resolve("base.raw");
        makeBase(base, p.virtualBytes(), p.allocatedBytes());
        String bootImage = uploads(system, report, p, cli, base, store);
        Files.delete(base);
        snapshots(system, report, p, bootImage, store, work);
        system.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(bootImage).build());
        System.out.printf("[bench] %s: ours %.2f s, dd %.2f s, one-pass %.2f s, Nova %.2f s;"
            + " upload %.2f s vs cp %.2f s%n", p.label(), report.median(p, OURS),
            report.median(p, DD), report.median(p, ONE_PASS), report.median(p, NOVA),
            report.median(p, CLI_UPLOAD), report.median(p, CP));
        // After every point: a run cut short still leaves the points it finished.
        DataPathReport.write(report, dir, started, runs, bigRuns);
      }
    }
  }

  /** The CLI upload against cp + sync; returns the first uploaded image (to boot from). */
  private String uploads(StratusSystem system, BenchReport report, BenchReport.Point p, Path cli,
      Path base, Path store) throws Exception {
    String keep = null;
    for (int run = 0; run < runsAt(p); run++) {
      dropCaches();
      String name = "bench-upload-" + run;
      String[] out = new String[1];
      report.series(p, CLI_UPLOAD).seconds.add(timed(() -> out[0] = cliUpload(system, cli, name, base)));
      String id = out[0];
      long sent = bytesReceived(system, id);
      report.fact(p, "CLI upload: bytes on the wire / allocated", String.format("%.4f",
          sent / (double) p.allocatedBytes()));
      awaitChecksums(system, id, report, p, "upload");
      if (keep == null) {
        keep = id;
      } else {
        system.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
      }
      dropCaches();
      Path copy = store.resolve("bench-cp.raw");
      report.series(p, CP).seconds.add(timed(() -> sh("sh", "-c",
          "cp --sparse=always '" + base + "' '" + copy + "' && sync '" + copy + "'")));
      Files.delete(copy);
    }
    return keep;
  }

  /** Waits (outside the timings) until md5/sha512 were filled in; records how long that took. */
  private static void awaitChecksums(StratusSystem system, String imageId, BenchReport report,
      BenchReport.Point p, String what) throws Exception {
    long t = System.nanoTime();
    while (image(system, imageId).getPropertiesMap().containsKey("stratus_checksum_pending")) {
      Thread.sleep(100);
    }
    report.series(p, "background md5+sha512 after " + what).seconds.add((System.nanoTime() - t) / 1e9);
  }

  private void snapshots(StratusSystem system, BenchReport report, BenchReport.Point p,
      String bootImage, Path store, Path work) throws Exception {
    String id = system.servers(MEMBER).createServer(CreateServerRequest.newBuilder()
        .setName("bench-" + (p.virtualBytes() >> 30)).setImageRef(bootImage)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)
            .setRootGb((int) (p.virtualBytes() >> 30))).build()).getServer().getId();
    double boot = timed(() -> system.awaitIdle(id, Duration.ofMinutes(30)));
    report.fact(p, "boot (image-cache fill of the whole base + spawn), s", String.format("%.2f", boot));
    assertEquals(PowerState.POWER_STATE_RUNNING, system.get(id).getPowerState());
    Path disk = system.disk(id);
    Path cached = system.root.resolve("cache").resolve(bootImage + ".raw");
    Map<String, Long> pids = new java.util.LinkedHashMap<>();
    pids.put("agent", system.agent.pid());
    pids.put("gateway", system.gateway.pid());
    pids.put("conductor", system.conductor.pid());
    assertTrue(Files.exists(cached), "the base is in the agent's image cache: " + cached);
    for (int run = 0; run < runsAt(p); run++) {
      dropCaches();
      AtomicLong overlayPeak = new AtomicLong();
      String[] imageId = new String[1];
      Thread sampler = Thread.ofPlatform().daemon().start(() -> {
        try {
          while (!Thread.currentThread().isInterrupted()) {
            try (var files = Files.list(disk.getParent())) {
              for (Path f : files.toList()) {
                if (f.getFileName().toString().contains(".stratus-snap-")) {
                  overlayPeak.accumulateAndGet(allocated(f), Math::max);
                }
              }
            }
            Thread.sleep(50);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (Exception ignored) {
          // the overlay came and went between list and stat
        }
      });
      imageId[0] = BenchTools.snapshot(system, id, "bench-snap-" + run, pids, report, p, OURS, run);
      sampler.interrupt();
      sampler.join();
      Image snap = image(system, imageId[0]);
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, snap.getStatus(), "snapshot " + imageId[0]);
      BenchReport.Series ours = report.series(p, OURS);
      ours.peakExtraDisk = Math.max(ours.peakExtraDisk, overlayPeak.get());
      report.fact(p, "snapshot: bytes on the wire / allocated", String.format("%.4f",
          bytesReceived(system, imageId[0]) / (double) p.allocatedBytes()));
      awaitChecksums(system, imageId[0], report, p, "snapshot");
      system.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId[0]).build());

      dropCaches();
      report.series(p, DD).seconds.add(timed(() -> {
        sh("dd", "if=" + cached, "of=/dev/null", "iflag=direct", "bs=4M", "status=none");
        sh("dd", "if=" + disk, "of=/dev/null", "iflag=direct", "bs=4M", "status=none");
      }));

      dropCaches();
      Path onePass = store.resolve("bench-one-pass.raw");
      report.fact(p, "one-pass, CPU-s run " + run, BenchTools.cpuDuring(Map.of(), () ->
          report.series(p, ONE_PASS).seconds.add(timed(() -> {
            sh("qemu-img", "convert", "-U", "-O", "raw", disk.toString(), onePass.toString());
            sh("sync", onePass.toString());
          }))));
      Files.delete(onePass);

      dropCaches();
      Path tmp = work.resolve("nova-snapshot.qcow2");
      Path novaCopy = store.resolve("bench-nova.qcow2");
      report.series(p, NOVA).seconds.add(timed(() -> {
        sh("qemu-img", "convert", "-U", "-O", "qcow2", disk.toString(), tmp.toString());
        sh("cp", tmp.toString(), novaCopy.toString());
        sh("sync", novaCopy.toString());
      }));
      BenchReport.Series nova = report.series(p, NOVA);
      nova.peakExtraDisk = Math.max(nova.peakExtraDisk, allocated(tmp));
      Files.delete(tmp);
      Files.delete(novaCopy);
    }
    report.fact(p, "agent peak RSS so far, MiB", Long.toString(system.agent.peakRssKib() / 1024));
    system.servers(MEMBER).deleteServer(DeleteServerRequest.newBuilder().setServerId(id).build());
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (Files.exists(disk) && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
  }
}
