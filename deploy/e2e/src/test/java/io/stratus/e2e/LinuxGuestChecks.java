package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.GuestConsole;
import io.stratus.testkit.Libvirt;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the tests on the real Linux guest ({@link io.stratus.testkit.LinuxGuest}) share:
 * uploading it, waiting on its console, running a command in it through its real qemu
 * guest agent, and checking that a server booted from a snapshot holds the files the
 * snapshotted guest had written.
 */
final class LinuxGuestChecks {
  /** Boot to the ready line: the image download to the host is in the first one. */
  static final Duration BOOT = Duration.ofSeconds(120);

  private LinuxGuestChecks() {}

  /** Uploads the guest's raw disk with the CLI, with image properties; returns the image id. */
  static String upload(StratusSystem system, String name, Path raw, Map<String, String> props)
      throws Exception {
    List<String> args = new ArrayList<>(List.of("image", "upload", "--name", name, "--file",
        raw.toString(), "--owner", "e2e-project", "-f", "json"));
    props.forEach((k, v) -> args.addAll(List.of("--property", k + "=" + v)));
    String[] up = system.cli(StratusSystem.MEMBER, args.toArray(String[]::new));
    assertEquals("0", up[0], up[2]);
    Image.Builder image = Image.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().ignoringUnknownFields().merge(up[1], image);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    props.forEach((k, v) -> assertEquals(v, image.getPropertiesMap().get(k), k));
    return image.getId();
  }

  /** Waits until the console shows {@code boots} ready boots; returns it. */
  static GuestConsole awaitReady(Path log, int boots) throws Exception {
    return GuestConsole.await(log, BOOT, boots + " ready boot(s)", c -> c.readyBoots() >= boots);
  }

  /** Waits until the last boot is ready and its writer completed {@code files} files. */
  static GuestConsole awaitWriting(Path log, int files) throws Exception {
    return GuestConsole.await(log, BOOT.plus(Duration.ofSeconds(60)), files + " written files",
        c -> c.lastBoot().ready().isPresent() && c.lastBoot().completed().size() >= files);
  }

  /** Result of a command run in the guest: its exit code and output. */
  record Exec(int exitCode, String stdout) {}

  private static final Pattern PID = Pattern.compile("\"pid\"\\s*:\\s*(\\d+)");
  private static final Pattern EXIT = Pattern.compile("\"exitcode\"\\s*:\\s*(-?\\d+)");
  private static final Pattern OUT = Pattern.compile("\"out-data\"\\s*:\\s*\"([A-Za-z0-9+/=]*)\"");

  /**
   * Runs {@code path args} in the guest through its qemu guest agent (guest-exec, then
   * guest-exec-status until it exited, at most 30 s).
   */
  static Exec guestExec(String domain, String path, String... args) throws Exception {
    StringBuilder json = new StringBuilder("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"")
        .append(path).append("\",\"arg\":[");
    for (int i = 0; i < args.length; i++) {
      json.append(i == 0 ? "" : ",").append('"').append(args[i]).append('"');
    }
    json.append("],\"capture-output\":true}}");
    String started = Libvirt.virsh("qemu-agent-command", domain, json.toString());
    Matcher pid = PID.matcher(started);
    assertTrue(pid.find(), "guest-exec answered " + started);
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      String status = Libvirt.virsh("qemu-agent-command", domain,
          "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":" + pid.group(1) + "}}");
      if (status.contains("\"exited\":true")) {
        Matcher exit = EXIT.matcher(status);
        Matcher out = OUT.matcher(status);
        return new Exec(exit.find() ? Integer.parseInt(exit.group(1)) : -1,
            out.find() ? new String(Base64.getDecoder().decode(out.group(1)), StandardCharsets.UTF_8) : "");
      }
      assertTrue(System.nanoTime() < deadline, "the guest command did not end: " + status);
      Thread.sleep(200);
    }
  }

  /**
   * Checks that a server booted from a quiesced snapshot of {@code source} (its console's
   * last boot) holds every file the source's writer completed before the guest agent froze
   * its file systems, with the checksums the source guest computed, and that its root file
   * system was clean: journal needing no recovery, e2fsck -f -n finding nothing.
   * Returns how many files the snapshot held.
   */
  static int assertHoldsEveryFileCompleteBeforeTheFreeze(GuestConsole.Boot source,
      GuestConsole.Boot clone) throws Exception {
    Map<String, String> beforeFreeze = source.completedBeforeFreeze();
    assertTrue(beforeFreeze.size() >= 10, "the writer was writing before the freeze: " + beforeFreeze.size());
    assertTrue(clone.journalClean(), "a frozen file system leaves no journal to replay:\n"
        + String.join("\n", clone.lines()));
    assertEquals(0, clone.fsckExitCode().orElse(-1), "e2fsck -f -n of the snapshot:\n"
        + String.join("\n", clone.lines()));
    GuestConsole.Verified v = clone.verified().get("boot-" + source.ready().orElseThrow());
    assertTrue(v != null, "the clone verified the source's files:\n" + String.join("\n", clone.lines()));
    assertEquals(0, v.bad(), "files of the snapshot with a wrong checksum: " + v);
    assertEquals(v.files(), v.ok(), v.toString());
    assertTrue(v.files() >= beforeFreeze.size(), "every file complete before the freeze is in"
        + " the snapshot: " + v.files() + " < " + beforeFreeze.size());
    assertEquals(sha256(GuestConsole.manifest(source.completed(), v.files())), v.manifestSha256(),
        "the snapshot's manifest lists the files with the checksums the guest computed");
    return v.files();
  }

  static String sha256(String text) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(text.getBytes(StandardCharsets.UTF_8)));
  }
}
