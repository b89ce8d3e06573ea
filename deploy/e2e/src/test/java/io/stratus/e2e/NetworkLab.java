package io.stratus.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Compute hosts as network namespaces, made and removed by the test: a bridge this lab
 * creates, holding the control plane's address {@link #controlAddress} (10.x.y.1/24, a
 * subnet no interface of the machine uses), and per host a namespace {@code st<tag>-hN}
 * joined to it by a veth pair, with address 10.x.y.(10+N). Nothing is routed beyond the
 * bridge. A host's link can be cut ({@link #cut}: the bridge side of its veth goes down)
 * and restored, or limited in rate ({@link #limit}, tc tbf), as a real network would be.
 */
final class NetworkLab implements AutoCloseable {
  private final String tag;
  private final String subnet;
  private final String bridge;
  private final List<String> namespaces = new ArrayList<>();

  private NetworkLab(String tag, String subnet) {
    this.tag = tag;
    this.subnet = subnet;
    this.bridge = "st" + tag + "br";
  }

  /** Creates the bridge and {@code hosts} namespaces; everything is removed on close. */
  static NetworkLab create(int hosts) throws Exception {
    String used = run(false, "ip", "-o", "-4", "addr", "show");
    Random random = new Random();
    String subnet = null;
    for (int i = 0; i < 100 && subnet == null; i++) {
      String candidate = "10." + (200 + random.nextInt(50)) + "." + random.nextInt(250) + ".";
      if (!used.contains(" " + candidate)) {
        subnet = candidate;
      }
    }
    if (subnet == null) {
      throw new IllegalStateException("no free 10.x.y.0/24 subnet for the lab");
    }
    NetworkLab lab = new NetworkLab(Integer.toString(random.nextInt(1 << 20), 36), subnet);
    try {
      run(true, "ip", "link", "add", lab.bridge, "type", "bridge");
      run(true, "ip", "addr", "add", lab.controlAddress() + "/24", "dev", lab.bridge);
      run(true, "ip", "link", "set", lab.bridge, "up");
      for (int n = 1; n <= hosts; n++) {
        lab.addHost(n);
      }
      return lab;
    } catch (Exception | Error e) {
      lab.close();
      throw e;
    }
  }

  private void addHost(int n) throws Exception {
    String ns = namespace(n);
    run(true, "ip", "netns", "add", ns);
    namespaces.add(ns);
    String outside = veth(n);
    String inside = "st" + tag + "i" + n;
    run(true, "ip", "link", "add", outside, "type", "veth", "peer", "name", inside);
    run(true, "ip", "link", "set", inside, "netns", ns);
    run(true, "ip", "link", "set", outside, "master", bridge);
    run(true, "ip", "link", "set", outside, "up");
    run(true, "ip", "netns", "exec", ns, "ip", "addr", "add", hostAddress(n) + "/24", "dev",
        inside);
    run(true, "ip", "netns", "exec", ns, "ip", "link", "set", inside, "up");
    run(true, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
  }

  /** Whether this machine can make the lab (root, iproute2, network namespaces). */
  static String unavailableReason() {
    try {
      if (!"root".equals(System.getProperty("user.name"))) {
        return "network namespaces need root";
      }
      run(true, "ip", "netns", "list");
      return null;
    } catch (Exception e) {
      return "ip netns does not work here: " + e.getMessage();
    }
  }

  /** The control plane's address on the bridge (conductors and gateways listen here). */
  String controlAddress() {
    return subnet + "1";
  }

  /** Host {@code n}'s address (1-based). */
  String hostAddress(int n) {
    return subnet + (10 + n);
  }

  String namespace(int n) {
    return "st" + tag + "-h" + n;
  }

  private String veth(int n) {
    return "st" + tag + "o" + n;
  }

  /** The command prefix that runs a process inside host {@code n}'s namespace. */
  List<String> inHost(int n) {
    return List.of("ip", "netns", "exec", namespace(n));
  }

  /** Cuts host {@code n} off the network: the bridge side of its link goes down. */
  void cut(int n) throws Exception {
    run(true, "ip", "link", "set", veth(n), "down");
  }

  /** Restores host {@code n}'s link. */
  void restore(int n) throws Exception {
    run(true, "ip", "link", "set", veth(n), "up");
  }

  /**
   * Limits what host {@code n} sends to {@code mbit} Mbit/s (tc tbf on its side of the
   * link), or lifts the limit when {@code mbit} is 0.
   */
  void limit(int n, int mbit) throws Exception {
    String dev = "st" + tag + "i" + n;
    run(false, "ip", "netns", "exec", namespace(n), "tc", "qdisc", "del", "dev", dev, "root");
    if (mbit > 0) {
      run(true, "ip", "netns", "exec", namespace(n), "tc", "qdisc", "add", "dev", dev, "root",
          "tbf", "rate", mbit + "mbit", "burst", "256kb", "latency", "100ms");
    }
  }

  @Override
  public void close() throws Exception {
    for (String ns : namespaces) {
      run(false, "ip", "netns", "delete", ns);  // takes its veth pair with it
    }
    run(false, "ip", "link", "delete", bridge);
  }

  private static String run(boolean check, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + " hangs");
    }
    if (check && p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out.strip());
    }
    return out;
  }
}
