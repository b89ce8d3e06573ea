package io.stratus.e2e;

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
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.GlanceServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 11's data path into Glance ({@code deploy/bench.sh GlanceDataPathBenchmark}): the
 * same all-in-one processes as {@link DataPathBenchmark}, the image-gateway on the Glance
 * store of a real Glance (noauth, file store, on the same disk). For each point, side by
 * side, page cache dropped before every contestant, medians of {@code RUNS}:
 * <ul>
 *   <li>ours: a live snapshot through the public API until the image is active — the agent
 *       announces its allocation, the gateway streams a compact qcow2 into Glance;</li>
 *   <li>{@code curl -T} of the same bytes (the qcow2 Glance holds for our snapshot) into a
 *       new image of the same Glance;</li>
 *   <li>Nova's way: {@code qemu-img convert -U -O qcow2} of the disk to a temp file, then
 *       {@code curl -T} of it into Glance.</li>
 * </ul>
 * Writes {@code docs/benchmarks/data-path-glance.md} with PNG plots. Environment as {@link
 * DataPathBenchmark} ({@code STRATUS_BENCH_POINTS}, default {@code 4:0.1,4:0.5,4:1,16:0.1}).
 */
@Tag("benchmark")
class GlanceDataPathBenchmark {
  static final String OURS = "ours (snapshot into Glance)";
  static final String CURL = "curl -T of the same bytes into Glance";
  static final String NOVA = "Nova's way (convert to temp qcow2 + upload)";
  private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*\"([0-9a-f-]{36})\"");

  private final int runs = Integer.parseInt(env("STRATUS_BENCH_RUNS", "5"));

  @Test
  void snapshotsIntoGlanceAgainstCurlAndNovasWay() throws Exception {
    BenchReport report = new BenchReport();
    Path cli = BenchTools.cli();
    Instant started = Instant.now();
    Path dir = BenchTools.reportDir();
    try (GlanceServer glance = GlanceServer.start();
        StratusSystem system = new StratusSystem(null, glance.url())) {
      Path work = Files.createDirectories(system.root.resolve("bench"));
      for (BenchReport.Point p : BenchTools.points("4:0.1,4:0.5,4:1,16:0.1")) {
        Path base = work.resolve("base.raw");
        makeBase(base, p.virtualBytes(), p.allocatedBytes());
        String bootImage = cliUpload(system, cli, "bench-glance-base", base);
        Files.delete(base);
        snapshots(system, glance.url(), glance.pid(), report, p, bootImage, work);
        system.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(bootImage).build());
        System.out.printf("[bench] glance %s: ours %.2f s, curl -T %.2f s, Nova %.2f s%n",
            p.label(), report.median(p, OURS), report.median(p, CURL), report.median(p, NOVA));
        GlanceDataPathReport.write(report, dir, started, runs);
      }
    }
  }

  private void snapshots(StratusSystem system, URI glance, long glancePid, BenchReport report,
      BenchReport.Point p, String bootImage, Path work) throws Exception {
    String id = system.servers(MEMBER).createServer(CreateServerRequest.newBuilder()
        .setName("bench-glance-" + (p.virtualBytes() >> 30)).setImageRef(bootImage)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128)
            .setRootGb((int) (p.virtualBytes() >> 30))).build()).getServer().getId();
    double boot = timed(() -> system.awaitIdle(id, Duration.ofMinutes(30)));
    report.fact(p, "boot (image-cache fill from Glance's qcow2 + spawn), s",
        String.format("%.2f", boot));
    Path disk = system.disk(id);
    Map<String, Long> pids = new java.util.LinkedHashMap<>();
    pids.put("agent", system.agent.pid());
    pids.put("gateway", system.gateway.pid());
    pids.put("conductor", system.conductor.pid());
    pids.put("Glance", glancePid);
    for (int run = 0; run < runs; run++) {
      dropCaches();
      String[] imageId = new String[1];
      imageId[0] = BenchTools.snapshot(system, id, "bench-glance-snap-" + run, pids, report, p, OURS, run);
      Image snap = image(system, imageId[0]);
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, snap.getStatus(), "snapshot " + imageId[0]);
      assertEquals("qcow2", snap.getDiskFormat(), "a compact qcow2 in Glance");
      report.fact(p, "snapshot: data bytes on the wire / allocated", String.format("%.4f",
          bytesReceived(system, imageId[0]) / (double) p.allocatedBytes()));
      report.fact(p, "snapshot: bytes stored in Glance / allocated", String.format("%.4f",
          snap.getSize() / (double) p.allocatedBytes()));

      // The same bytes, by curl: the qcow2 Glance holds for our snapshot (fetched untimed).
      Path same = work.resolve("same-bytes.qcow2");
      sh("curl", "-sS", "-f", "-o", same.toString(), glance + "/v2/images/" + imageId[0] + "/file");
      system.images().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId[0]).build());
      String curlImage = createGlanceImage(glance, "bench-curl-" + run);
      dropCaches();
      report.fact(p, "curl -T, CPU-s run " + run, BenchTools.cpuDuring(
          java.util.Map.of("Glance", glancePid), () ->
              report.series(p, CURL).seconds.add(timed(() -> upload(glance, curlImage, same)))));
      deleteGlanceImage(glance, curlImage);
      Files.delete(same);

      Path tmp = work.resolve("nova-snapshot.qcow2");
      String novaImage = createGlanceImage(glance, "bench-nova-" + run);
      dropCaches();
      report.series(p, NOVA).seconds.add(timed(() -> {
        sh("qemu-img", "convert", "-U", "-O", "qcow2", disk.toString(), tmp.toString());
        upload(glance, novaImage, tmp);
      }));
      BenchReport.Series nova = report.series(p, NOVA);
      nova.peakExtraDisk = Math.max(nova.peakExtraDisk, BenchTools.allocated(tmp));
      deleteGlanceImage(glance, novaImage);
      Files.delete(tmp);
    }
    report.fact(p, "agent peak RSS so far, MiB", Long.toString(system.agent.peakRssKib() / 1024));
    system.servers(MEMBER).deleteServer(DeleteServerRequest.newBuilder().setServerId(id).build());
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (Files.exists(disk) && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
  }

  /** {@code curl -T}: one PUT of the file; returns once Glance answered (the image active). */
  private static void upload(URI glance, String imageId, Path file) throws Exception {
    sh("curl", "-sS", "-f", "-T", file.toString(), "-H", "Content-Type: application/octet-stream",
        glance + "/v2/images/" + imageId + "/file");
  }

  private static String createGlanceImage(URI glance, String name) throws Exception {
    Process p = new ProcessBuilder("curl", "-sS", "-f", "-X", "POST", "-H",
        "Content-Type: application/json", "-d", "{\"name\": \"" + name
            + "\", \"disk_format\": \"qcow2\", \"container_format\": \"bare\"}",
        glance + "/v2/images").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "create in Glance: " + out);
    Matcher m = ID.matcher(out);
    assertTrue(m.find(), "no id in Glance's answer: " + out);
    return m.group(1);
  }

  private static void deleteGlanceImage(URI glance, String imageId) throws Exception {
    sh("curl", "-sS", "-f", "-X", "DELETE", glance + "/v2/images/" + imageId);
  }
}
