package io.stratus.cli.output;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  private static final long MIB = 1 << 20;
  private static final long MS = 1_000_000;

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
  private final AtomicLong now = new AtomicLong(1_000 * MS);

  @Test
  void onATerminalOneLineIsRedrawnAtMostTenTimesASecond() {
    ProgressBar bar = new ProgressBar(err, true, now::get);

    bar.update("image_uploading", 0, 100 * MIB);
    now.addAndGet(50 * MS);
    bar.update("image_uploading", 10 * MIB, 100 * MIB); // too soon: not drawn
    now.addAndGet(950 * MS);
    bar.update("image_uploading", 50 * MIB, 100 * MIB);
    bar.finish();

    assertEquals(
        "\rimage_uploading  [------------------------]   0%  0 B / 100.0 MiB"
            + "\rimage_uploading  [############------------]  50%  50.0 MiB / 100.0 MiB"
            + "  50.0 MiB/s  ETA 0:01\n",
        bytes.toString(StandardCharsets.UTF_8));
  }

  @Test
  void elsewhereItPrintsALineEveryFewSecondsAndTheLastState() {
    ProgressBar bar = new ProgressBar(err, false, now::get);

    bar.update("download", 0, 0);
    now.addAndGet(1_000 * MS);
    bar.update("download", MIB, 0); // within 5 s: held back
    now.addAndGet(4_000 * MS);
    bar.update("download", 5 * MIB, 0);
    now.addAndGet(1_000 * MS);
    bar.update("download", 6 * MIB, 0);
    bar.finish();

    assertEquals("""
        download  0 B
        download  5.0 MiB  1.0 MiB/s
        download  6.0 MiB  1.0 MiB/s
        """, bytes.toString(StandardCharsets.UTF_8));
  }
}
