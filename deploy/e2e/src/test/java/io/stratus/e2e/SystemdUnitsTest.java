package io.stratus.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The systemd units in {@code deploy/systemd} are what systemd accepts ({@code
 * systemd-analyze verify}, on a root holding the units, the launcher and the system's own
 * units: any warning fails too), and say what matters: the agent's restart and a kill mode
 * that signals the agent alone (never the guests), every service hardened, started by the
 * launcher with its own name and settings file.
 */
class SystemdUnitsTest {
  private static final Path UNITS = Path.of("../systemd").toAbsolutePath().normalize();
  private static final List<String> SERVICES = List.of("compute-agent", "conductor", "image-gateway");

  /** A unit's [Service] section as key to values (a key may repeat). */
  private static Map<String, List<String>> service(String unit) throws Exception {
    Map<String, List<String>> keys = new LinkedHashMap<>();
    boolean inService = false;
    for (String line : Files.readAllLines(UNITS.resolve(unit))) {
      String l = line.strip();
      if (l.startsWith("[")) {
        inService = l.equals("[Service]");
      } else if (inService && !l.isEmpty() && !l.startsWith("#")) {
        int eq = l.indexOf('=');
        keys.computeIfAbsent(l.substring(0, eq), k -> new ArrayList<>()).add(l.substring(eq + 1));
      }
    }
    return keys;
  }

  private static String one(Map<String, List<String>> keys, String key) {
    List<String> values = keys.get(key);
    assertTrue(values != null && values.size() == 1, key + " set once: " + values);
    return values.get(0);
  }

  @Test
  void systemdAcceptsEveryUnitWithoutAWarning(@TempDir Path root) throws Exception {
    Path systemUnits = Files.isDirectory(Path.of("/usr/lib/systemd/system"))
        ? Path.of("/usr/lib/systemd/system") : Path.of("/lib/systemd/system");
    assertTrue(Files.isRegularFile(systemUnits.resolve("sysinit.target")),
        "systemd's units are needed to verify ours (package systemd): " + systemUnits);
    Path units = Files.createDirectories(root.resolve("usr/lib/systemd"));
    copyTree(systemUnits, units.resolve("system"));
    Path bin = Files.createDirectories(root.resolve("usr/lib/stratus/bin"));
    Files.copy(UNITS.resolve("stratus-launch"), bin.resolve("stratus-launch"));
    Path etc = Files.createDirectories(root.resolve("etc/systemd/system"));
    List<String> cmd = new ArrayList<>(List.of("systemd-analyze", "verify", "--root=" + root));
    for (String s : SERVICES) {
      Files.copy(UNITS.resolve("stratus-" + s + ".service"), etc.resolve("stratus-" + s + ".service"));
      cmd.add("stratus-" + s + ".service");
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).directory(root.toFile()).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertEquals("", out.strip(), "systemd-analyze verify printed warnings");
  }

  @Test
  void theAgentRestartsAndItsStopNeverTouchesTheGuests() throws Exception {
    Map<String, List<String>> agent = service("stratus-compute-agent.service");
    assertEquals("process", one(agent, "KillMode"), "only the agent's JVM is signalled");
    assertEquals("always", one(agent, "Restart"));
    assertTrue(one(agent, "TimeoutStopSec").endsWith("s"));
  }

  @Test
  void everyServiceIsHardenedAndStartedByTheLauncherWithItsOwnSettings() throws Exception {
    for (String s : SERVICES) {
      Map<String, List<String>> keys = service("stratus-" + s + ".service");
      assertEquals("/usr/lib/stratus/bin/stratus-launch " + s, one(keys, "ExecStart"), s);
      assertEquals("/etc/stratus/" + s + ".env", one(keys, "EnvironmentFile"), s);
      assertTrue(Files.isRegularFile(UNITS.resolve(s + ".env.example")), s + ": an example settings file");
      assertEquals("yes", one(keys, "NoNewPrivileges"), s);
      assertEquals("yes", one(keys, "ProtectHome"), s);
      assertEquals("yes", one(keys, "PrivateTmp"), s);
      assertTrue(List.of("full", "strict").contains(one(keys, "ProtectSystem")), s);
      if (!s.equals("compute-agent")) {
        assertEquals("yes", one(keys, "DynamicUser"), s + " runs as no fixed user");
        assertEquals("strict", one(keys, "ProtectSystem"), s);
        assertEquals("", one(keys, "CapabilityBoundingSet"), s + " holds no capability");
      }
    }
  }

  @Test
  void theLauncherRefusesAnUnknownService() throws Exception {
    Process p = new ProcessBuilder("sh", UNITS.resolve("stratus-launch").toString(), "nova")
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains("usage: stratus-launch conductor|image-gateway|compute-agent"), out);
  }

  private static void copyTree(Path from, Path to) throws Exception {
    try (var paths = Files.walk(from)) {
      for (Path p : paths.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isSymbolicLink(p)) {
          Files.createSymbolicLink(target, Files.readSymbolicLink(p));
        } else if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }
}
