package io.stratus.testkit;

import java.time.Duration;

/**
 * {@code qemu-img} for tests that judge image files by qemu's own reading ({@code check},
 * {@code compare}, {@code convert}); installs qemu through {@link Libvirt#ensureRunning}
 * the first time when the machine has no {@code qemu-img}.
 */
public final class QemuImgTool {
  private static final Duration TIMEOUT = Duration.ofMinutes(2);

  private QemuImgTool() {}

  /**
   * Runs {@code qemu-img args…} and returns its standard output.
   *
   * @throws IllegalStateException when it exits non-zero (with its output)
   */
  public static String run(String... args) {
    if (Libvirt.run(Duration.ofSeconds(10), "sh", "-c", "command -v qemu-img").exitCode() != 0) {
      Libvirt.ensureRunning();  // installs qemu-utils with the rest of qemu and libvirt
    }
    String[] command = new String[args.length + 1];
    command[0] = "qemu-img";
    System.arraycopy(args, 0, command, 1, args.length);
    Libvirt.Result r = Libvirt.run(TIMEOUT, command);
    if (r.exitCode() != 0) {
      throw new IllegalStateException(r.describe());
    }
    return r.stdout();
  }
}
