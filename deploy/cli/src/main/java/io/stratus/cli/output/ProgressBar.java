package io.stratus.cli.output;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Byte progress on stderr: {@code image_uploading  [#######-----]  58%  1.2 GiB / 2.0 GiB
 * 85.3 MiB/s  ETA 0:09}. On a terminal one line is redrawn with {@code \r} (at most ten
 * times a second); otherwise a plain line is printed every few seconds, so logs stay
 * readable. The rate is the average since the first update.
 */
public final class ProgressBar {
  private static final long TERMINAL_EVERY = TimeUnit.MILLISECONDS.toNanos(100);
  private static final long PLAIN_EVERY = TimeUnit.SECONDS.toNanos(5);
  private static final int BAR_WIDTH = 24;

  private final PrintStream err;
  private final boolean terminal;
  private final LongSupplier nanoClock;
  private long firstNanos;
  private long firstBytes;
  private long lastDrawNanos;
  private boolean started;
  private boolean pending;
  private int drawnWidth;
  private String label = "";
  private long done;
  private long total;

  public ProgressBar(PrintStream err, boolean terminal, LongSupplier nanoClock) {
    this.err = err;
    this.terminal = terminal;
    this.nanoClock = nanoClock;
  }

  public ProgressBar(PrintStream err, boolean terminal) {
    this(err, terminal, System::nanoTime);
  }

  /**
   * Records progress and draws it when due (always for the first and the complete state).
   *
   * @param total 0 when not known yet
   */
  public void update(String label, long done, long total) {
    long now = nanoClock.getAsLong();
    if (!started) {
      started = true;
      firstNanos = now;
      firstBytes = done;
    }
    boolean changed = !label.equals(this.label) || done != this.done || total != this.total;
    this.label = label;
    this.done = done;
    this.total = total;
    pending |= changed;
    boolean first = lastDrawNanos == 0;
    boolean complete = total > 0 && done >= total;
    long every = terminal ? TERMINAL_EVERY : PLAIN_EVERY;
    if (pending && (first || complete || now - lastDrawNanos >= every)) {
      draw(now);
    }
  }

  /** Draws the last state if it was not drawn yet and ends the terminal line. */
  public void finish() {
    if (pending) {
      draw(nanoClock.getAsLong());
    }
    if (terminal && drawnWidth > 0) {
      err.println();
      drawnWidth = 0;
    }
    err.flush();
  }

  private void draw(long now) {
    String line = line(now);
    if (terminal) {
      int pad = Math.max(0, drawnWidth - line.length());
      err.print("\r" + line + " ".repeat(pad));
      drawnWidth = line.length();
    } else {
      err.println(line);
    }
    err.flush();
    lastDrawNanos = Math.max(1, now);
    pending = false;
  }

  String line(long now) {
    StringBuilder s = new StringBuilder(label);
    if (total > 0) {
      double fraction = Math.min(1.0, (double) done / total);
      int filled = (int) Math.round(fraction * BAR_WIDTH);
      s.append("  [").append("#".repeat(filled)).append("-".repeat(BAR_WIDTH - filled))
          .append(String.format(Locale.ROOT, "] %3d%%  ", (int) Math.floor(fraction * 100)))
          .append(Formats.bytes(done)).append(" / ").append(Formats.bytes(total));
    } else {
      s.append("  ").append(Formats.bytes(done));
    }
    double seconds = (now - firstNanos) / 1e9;
    if (seconds > 0 && done > firstBytes) {
      double rate = (done - firstBytes) / seconds;
      s.append("  ").append(Formats.bytes((long) rate)).append("/s");
      if (total > done) {
        s.append("  ETA ").append(Formats.duration((long) Math.ceil((total - done) / rate)));
      }
    }
    return s.toString();
  }
}
