package io.stratus.e2e;

import java.awt.BasicStroke;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The control-plane benchmark's figures, written as docs/benchmarks/control-plane.md with
 * two PNG plots: CreateImage latency against concurrent clients, and the conductor's heap
 * and the stalest heartbeat over the scale phase. Each goal of issue 17 is a row with its
 * measured figure and whether it is met.
 */
final class ControlPlaneReport {
  /** One sample of the scale phase. */
  record Sample(double seconds, double heapBytes, double stalestBeatSeconds) {}

  double pgbenchTps;
  int agentNice;
  double transitionsPerSecond;
  int powerOps;
  Percentiles powerOpMillis;
  final Map<Integer, Percentiles> createImage10 = new TreeMap<>();
  Percentiles createImageScaled;
  /** Per CreateImage phase: what became of the snapshots its calls started. */
  final Map<String, String> snapshotOutcomes = new java.util.LinkedHashMap<>();
  Percentiles heartbeatAckMillis;
  Percentiles heartbeatAckUnderLoad;
  /** Where each phase's CPU went. */
  final Map<String, String> cpu = new java.util.LinkedHashMap<>();
  double silentDownSeconds;
  /** When the API load of the scale phase ended, seconds into the phase. */
  double loadEndSeconds;
  double silentDownSinceLastBeat;
  double liveHeapAfterGc;
  double heapMax;
  int simErrors;
  final List<Sample> samples = java.util.Collections.synchronizedList(new ArrayList<>());

  private static String verdict(boolean met) {
    return met ? "met" : "**missed**";
  }

  double maxHeap() {
    synchronized (samples) {
      return samples.stream().mapToDouble(Sample::heapBytes).filter(d -> !Double.isNaN(d))
          .max().orElse(Double.NaN);
    }
  }

  double maxStalest() {
    synchronized (samples) {
      return samples.stream().mapToDouble(Sample::stalestBeatSeconds)
          .filter(d -> !Double.isNaN(d)).max().orElse(Double.NaN);
    }
  }

  void write(Path dir, int agents, int simHosts, int seconds, Duration heartbeat, int missed)
      throws IOException {
    Files.createDirectories(dir);
    double mib = 1 << 20;
    double interval = heartbeat.toSeconds();
    Percentiles at64 = createImage10.get(64);
    double ratio = createImageScaled == null || at64 == null ? Double.NaN
        : createImageScaled.p99() / at64.p99();
    double lag = maxStalest() - interval;
    StringBuilder md = new StringBuilder("# Control plane at scale\n\n")
        .append("Measured by `deploy/bench.sh ControlPlaneBenchmark` on this machine (2 cores,")
        .append(" TCG-only host; everything below shares the two cores). The real conductor")
        .append(" (its own JVM, `-Xmx1g`), image-gateway (filesystem store) and PostgreSQL 15")
        .append(" (synchronous commit), ").append(agents).append(" real compute-agents")
        .append(" (in one JVM, `AgentFleetMain`, each with its own certificate, gRPC server")
        .append(" and conductor link) on the **simulated hypervisor** (`simulator:///`:")
        .append(" domains in memory, real disk files and snapshot data path)")
        .append(agentNice == 0 ? ", at the same priority as the rest,"
            : ", at **nice " + agentNice + "** with their qemu-img children (in a deployment"
            + " they run on their own hosts; here the control plane gets the shared cores"
            + " first; `STRATUS_BENCH_AGENT_NICE=0` measures them at the same priority),")
        .append(" and for the")
        .append(" scale phase ")
        .append(simHosts).append(" **simulated hosts** (`SimulatedHosts`: each registers and")
        .append(" heartbeats on its own mutual-TLS connection; the agent address it registers")
        .append(" is one of the real agents', so the conductor's power sync of it gets a real")
        .append(" answer). Every call is mutual TLS with a bearer token. Heartbeat every ")
        .append(heartbeat.toSeconds()).append(" s, down after ").append(missed)
        .append(" missed (`heartbeat.missed`). Each phase runs ").append(seconds)
        .append(" s. Why the misses are missed: [control-plane-analysis.md]")
        .append("(control-plane-analysis.md).\n\n## Goals\n\n| goal | measured | |\n|---|---|---|\n");
    md.append(String.format("| persisted task-state transitions/s ≥ 0.5 × pgbench -N tps"
            + " (%.0f × 0.5 = %.0f) | %.0f/s | %s |%n", pgbenchTps, pgbenchTps / 2,
        transitionsPerSecond, verdict(transitionsPerSecond >= pgbenchTps / 2)));
    md.append(String.format("| p99 CreateImage ≤ 50 ms at 64 clients | %.1f ms | %s |%n",
        at64 == null ? Double.NaN : at64.p99(), verdict(at64 != null && at64.p99() <= 50)));
    md.append(String.format("| %d hosts: conductor heap ≤ 1 GiB | max used %.0f MiB;"
            + " live after GC %.0f MiB (max heap %.0f MiB) | %s |%n", simHosts + agents,
        maxHeap() / mib, liveHeapAfterGc / mib, heapMax / mib, verdict(maxHeap() <= 1024 * mib)));
    Percentiles worstAcks = heartbeatAckUnderLoad != null ? heartbeatAckUnderLoad
        : heartbeatAckMillis;
    md.append(String.format("| heartbeat lag ≤ 1 s | beat→ack, with the API under load: %s;"
            + " stalest beat in the database (sampled every second while the API ran, %.0f s, and"
            + " one interval after) %.2f s, i.e. %.2f s past the %d s"
            + " interval | %s |%n", worstAcks, loadEndSeconds, maxStalest(), lag,
        heartbeat.toSeconds(),
        verdict(lag <= 1.0 && worstAcks != null && worstAcks.p99() <= 1000)));
    md.append(String.format("| a silent host marked down within 2 intervals (%.0f s) | %.1f s"
            + " after it went silent (%.1f s after its last beat; down after %d missed) | %s |%n",
        2 * interval, silentDownSeconds, silentDownSinceLastBeat, missed,
        verdict(silentDownSeconds <= 2 * interval)));
    md.append(String.format("| API latency with %d hosts within 1.2 × the %d-host figure"
            + " (CreateImage p99, 64 clients) | %.1f ms vs %.1f ms: %.2f × | %s |%n",
        simHosts + agents, agents,
        createImageScaled == null ? Double.NaN : createImageScaled.p99(),
        at64 == null ? Double.NaN : at64.p99(), ratio, verdict(ratio <= 1.2)));
    md.append("\n## pgbench and transitions\n\n")
        .append(String.format("- `pgbench -N -c 32 -j 2 -T %d` (scale 10) on the same cluster,"
            + " before the services start: %.0f tps.%n", seconds, pgbenchTps))
        .append(String.format("- 64 clients each stopping and starting its own server (every"
            + " operation runs through the agent on the simulated hypervisor and is waited for"
            + " on a WatchServer stream): %d operations, %.0f persisted task-state"
            + " transitions/s (`stratus_task_transitions_total`, counted on commit); an"
            + " operation from the call to its end: %s.%n", powerOps, transitionsPerSecond,
            powerOpMillis));
    md.append("\n## CreateImage latency (the call: checks, queued image at the gateway,"
        + " compare-and-swap, action record; the snapshot itself runs after it)\n\n"
        + "| clients | hosts | p50 ms | p99 ms | max ms | calls |\n|---|---|---|---|---|---|\n");
    createImage10.forEach((c, p) -> md.append(String.format("| %d | %d | %.1f | %.1f | %.1f |"
        + " %d |%n", c, agents, p.p50(), p.p99(), p.max(), p.count())));
    if (createImageScaled != null) {
      md.append(String.format("| 64 | %d | %.1f | %.1f | %.1f | %d |%n", simHosts + agents,
          createImageScaled.p50(), createImageScaled.p99(), createImageScaled.max(),
          createImageScaled.count()));
    }
    md.append("\nWhat became of the snapshots the calls started (the gateway's upload limits"
        + " are its defaults, as deployed: a refused snapshot ends at once and its client asks"
        + " again):\n\n");
    snapshotOutcomes.forEach((phase, o) -> md.append("- ").append(phase).append(": ")
        .append(o).append('\n'));
    md.append(String.format("%nHeartbeats of the %d hosts, beat to acknowledgement: while the"
        + " 64 CreateImage clients ran %s; afterwards (one quiet interval and the silent-host"
        + " wait) %s."
        + " Simulated hosts' stream errors: %d.%n", simHosts + agents, heartbeatAckUnderLoad,
        heartbeatAckMillis, simErrors));
    md.append("\n## Where the CPU went\n\n| phase | CPU |\n|---|---|\n");
    cpu.forEach((phase, text) -> md.append("| ").append(phase).append(" | ").append(text)
        .append(" |\n"));
    plotLatency(dir.resolve("control-plane-latency.png"), agents, simHosts);
    plotScale(dir.resolve("control-plane-scale.png"), simHosts + agents);
    md.append("\n![CreateImage latency](control-plane-latency.png)\n\n")
        .append("![heap and stalest heartbeat](control-plane-scale.png)\n");
    Files.writeString(dir.resolve("control-plane.md"), md);
  }

  private void plotLatency(Path png, int agents, int simHosts) throws IOException {
    XYSeries p50 = new XYSeries("p50, " + agents + " hosts");
    XYSeries p99 = new XYSeries("p99, " + agents + " hosts");
    createImage10.forEach((c, p) -> {
      p50.add(c.doubleValue(), p.p50());
      p99.add(c.doubleValue(), p.p99());
    });
    XYSeriesCollection data = new XYSeriesCollection();
    data.addSeries(p50);
    data.addSeries(p99);
    if (createImageScaled != null) {
      XYSeries scaled = new XYSeries("p99, " + (simHosts + agents) + " hosts");
      scaled.add(64, createImageScaled.p99());
      data.addSeries(scaled);
    }
    JFreeChart chart = ChartFactory.createXYLineChart("CreateImage latency",
        "concurrent clients", "ms", data, PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    LogAxis x = new LogAxis("concurrent clients (log)");
    x.setBase(2);
    plot.setDomainAxis(x);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      r.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(r);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 600);
  }

  private void plotScale(Path png, int hosts) throws IOException {
    XYSeries heap = new XYSeries("conductor heap used (MiB)");
    XYSeries stale = new XYSeries("stalest heartbeat (s × 100)");
    for (Sample s : samples) {
      if (!Double.isNaN(s.heapBytes())) {
        heap.add(s.seconds(), s.heapBytes() / (1 << 20));
      }
      if (!Double.isNaN(s.stalestBeatSeconds())) {
        stale.add(s.seconds(), s.stalestBeatSeconds() * 100);
      }
    }
    XYSeriesCollection data = new XYSeriesCollection();
    data.addSeries(heap);
    data.addSeries(stale);
    JFreeChart chart = ChartFactory.createXYLineChart(String.format("%d hosts heartbeating"
            + " (64 CreateImage clients until %.0f s)", hosts, loadEndSeconds),
        "seconds into the phase", "", data, PlotOrientation.VERTICAL, true, false, false);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 600);
  }
}
