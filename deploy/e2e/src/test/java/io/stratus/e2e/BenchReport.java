package io.stratus.e2e;

import java.awt.BasicStroke;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Collects the data-path benchmark's runs and writes them as a Markdown report with PNG
 * plots (JFreeChart, headless): times against allocated bytes per contestant, and the
 * peak extra disk each needs.
 */
final class BenchReport {
  /** One point of the matrix: virtual size and allocated bytes. */
  record Point(long virtualBytes, long allocatedBytes) {
    String label() {
      return String.format("%d GiB @ %d %%", virtualBytes >> 30,
          Math.round(100.0 * allocatedBytes / virtualBytes));
    }
  }

  /** Runs of one contestant at one point, in seconds, and its peak extra disk in bytes. */
  static final class Series {
    final List<Double> seconds = new ArrayList<>();
    long peakExtraDisk;

    double median() {
      List<Double> s = new ArrayList<>(seconds);
      Collections.sort(s);
      return s.isEmpty() ? Double.NaN : s.get(s.size() / 2);
    }
  }

  private final Map<Point, Map<String, Series>> runs = new LinkedHashMap<>();
  private final Map<Point, Map<String, String>> facts = new LinkedHashMap<>();

  Series series(Point p, String contestant) {
    return runs.computeIfAbsent(p, k -> new LinkedHashMap<>())
        .computeIfAbsent(contestant, k -> new Series());
  }

  /** A figure of one point that is not a time (bytes on the wire, RSS…). */
  void fact(Point p, String name, String value) {
    facts.computeIfAbsent(p, k -> new LinkedHashMap<>()).put(name, value);
  }

  double median(Point p, String contestant) {
    Map<String, Series> m = runs.get(p);
    return m == null || !m.containsKey(contestant) ? Double.NaN : m.get(contestant).median();
  }

  List<Point> points() {
    return List.copyOf(runs.keySet());
  }

  /** Writes {@code name}.md with {@code body} before the tables, and the plots beside it. */
  void write(Path dir, String name, String title, String preamble, List<String> contestants,
      String epilogue) throws IOException {
    Files.createDirectories(dir);
    StringBuilder md = new StringBuilder("# ").append(title).append("\n\n").append(preamble)
        .append("\n\n## Medians (seconds)\n\n| point |");
    contestants.forEach(c -> md.append(' ').append(c).append(" |"));
    md.append("\n|---|");
    contestants.forEach(c -> md.append("---|"));
    md.append('\n');
    for (Point p : runs.keySet()) {
      md.append("| ").append(p.label()).append(" |");
      for (String c : contestants) {
        double m = median(p, c);
        md.append(Double.isNaN(m) ? " – |" : String.format(" %.2f |", m));
      }
      md.append('\n');
    }
    md.append("\n## Every run (seconds)\n\n");
    for (Point p : runs.keySet()) {
      md.append("- ").append(p.label()).append(": ");
      List<String> parts = new ArrayList<>();
      runs.get(p).forEach((c, s) -> parts.add(c + " " + s.seconds.stream()
          .map(x -> String.format("%.2f", x)).toList()));
      md.append(String.join("; ", parts)).append('\n');
      if (facts.containsKey(p)) {
        facts.get(p).forEach((k, v) -> md.append("  - ").append(k).append(": ").append(v).append('\n'));
      }
    }
    String timePng = name + "-time.png";
    String diskPng = name + "-extra-disk.png";
    plotTimes(dir.resolve(timePng), contestants, title);
    plotExtraDisk(dir.resolve(diskPng), contestants);
    md.append("\n![time against allocated bytes](").append(timePng).append(")\n\n")
        .append("![peak extra disk](").append(diskPng).append(")\n\n").append(epilogue).append('\n');
    Files.writeString(dir.resolve(name + ".md"), md);
  }

  private void plotTimes(Path png, List<String> contestants, String title) throws IOException {
    XYSeriesCollection data = new XYSeriesCollection();
    Map<Long, List<Point>> bySize = new LinkedHashMap<>();
    runs.keySet().forEach(p -> bySize.computeIfAbsent(p.virtualBytes(), k -> new ArrayList<>()).add(p));
    for (String c : contestants) {
      for (var e : bySize.entrySet()) {
        XYSeries s = new XYSeries(c + " (" + (e.getKey() >> 30) + " GiB disk)");
        for (Point p : e.getValue()) {
          double m = median(p, c);
          if (!Double.isNaN(m)) {
            s.add(p.allocatedBytes() / (double) (1L << 30), m);
          }
        }
        if (s.getItemCount() > 0) {
          data.addSeries(s);
        }
      }
    }
    JFreeChart chart = ChartFactory.createXYLineChart(title, "allocated data (GiB)",
        "median time (s)", data, PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      r.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(r);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 600);
  }

  private void plotExtraDisk(Path png, List<String> contestants) throws IOException {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (Point p : runs.keySet()) {
      for (String c : contestants) {
        Series s = runs.get(p).get(c);
        if (s != null) {
          data.addValue(s.peakExtraDisk / (double) (1L << 30), c, p.label());
        }
      }
    }
    JFreeChart chart = ChartFactory.createBarChart("Peak extra disk on the host", "point",
        "GiB", data, PlotOrientation.VERTICAL, true, false, false);
    ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, 500);
  }
}
