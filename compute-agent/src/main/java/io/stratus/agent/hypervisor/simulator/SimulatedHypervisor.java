package io.stratus.agent.hypervisor.simulator;

import io.stratus.agent.disk.QemuImg;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A simulated hypervisor, Nova's {@code fake.FakeDriver}: domains are records in memory
 * whose power changes at once (a guest obeys ACPI the moment it is asked), so the agent,
 * the conductor and PostgreSQL can be measured without qemu's cost — the control-plane
 * benchmark runs many agents on it ({@code libvirt.uri = simulator:///}). Disks are the
 * agent's real files: a disk-only snapshot makes a real qcow2 overlay on the current image
 * (so the snapshot's data path reads a real chain) and the commit pivots back to the image
 * below (a simulated guest writes nothing). Guests have no guest agent unless their spec
 * asks for one, and then freezing always succeeds. Not for production hosts.
 */
public final class SimulatedHypervisor implements Hypervisor {
  /** The URI that selects it. */
  public static final String URI = "simulator:///";

  private static final class Domain {
    final DomainSpec spec;
    Power power = Power.SHUTDOWN;
    boolean managedSave;
    final Map<String, Deque<DiskInfo>> disks = new ConcurrentHashMap<>();

    Domain(DomainSpec spec) {
      this.spec = spec;
      for (Disk d : spec.disks()) {
        Deque<DiskInfo> chain = new ArrayDeque<>();
        chain.push(d.source() instanceof FileDisk f
            ? new DiskInfo(d.target(), f.path(), f.format())
            : new DiskInfo(d.target(), null, "raw"));
        disks.put(d.target(), chain);
      }
    }

    DomainInfo info() {
      return new DomainInfo(spec.uuid(), spec.name(), power, true, managedSave);
    }
  }

  private final Map<String, Domain> domains = new ConcurrentHashMap<>();

  /** Whether {@code uri} names the simulator. */
  public static boolean selects(String uri) {
    return uri != null && uri.startsWith("simulator:");
  }

  @Override
  public String uri() {
    return URI;
  }

  private Domain require(String uuid) {
    Domain d = domains.get(uuid);
    if (d == null) {
      throw new HypervisorException(HypervisorException.Kind.NO_DOMAIN,
          "no simulated domain " + uuid, null);
    }
    return d;
  }

  @Override
  public Optional<DomainInfo> find(String uuid) {
    Domain d = domains.get(uuid);
    if (d == null) {
      return Optional.empty();
    }
    synchronized (d) {
      return Optional.of(d.info());
    }
  }

  @Override
  public List<DomainInfo> list() {
    List<DomainInfo> out = new ArrayList<>();
    for (Domain d : domains.values()) {
      synchronized (d) {
        out.add(d.info());
      }
    }
    return out;
  }

  @Override
  public void define(DomainSpec spec) {
    domains.compute(spec.uuid(), (k, old) -> {
      Domain d = new Domain(spec);
      if (old != null) {
        d.power = old.power;
        d.managedSave = old.managedSave;
      }
      return d;
    });
  }

  @Override
  public void undefine(String uuid) {
    domains.remove(uuid);
  }

  private void power(String uuid, Power to) {
    Domain d = require(uuid);
    synchronized (d) {
      d.power = to;
    }
  }

  @Override
  public void start(String uuid) {
    Domain d = require(uuid);
    synchronized (d) {
      d.power = Power.RUNNING;
      d.managedSave = false;
    }
  }

  @Override
  public void destroy(String uuid) {
    power(uuid, Power.SHUTDOWN);
  }

  @Override
  public void shutdown(String uuid) {
    power(uuid, Power.SHUTDOWN);  // the simulated guest powers off as soon as asked
  }

  @Override
  public void suspend(String uuid) {
    power(uuid, Power.PAUSED);
  }

  @Override
  public void resume(String uuid) {
    power(uuid, Power.RUNNING);
  }

  @Override
  public void managedSave(String uuid) {
    Domain d = require(uuid);
    synchronized (d) {
      d.power = Power.SHUTDOWN;
      d.managedSave = true;
    }
  }

  @Override
  public List<DiskInfo> disks(String uuid) {
    Domain d = require(uuid);
    synchronized (d) {
      List<DiskInfo> out = new ArrayList<>();
      for (Disk disk : d.spec.disks()) {
        out.add(d.disks.get(disk.target()).peek());
      }
      return out;
    }
  }

  @Override
  public void snapshotDiskOnly(String uuid, String target, Path overlay) {
    Domain d = require(uuid);
    synchronized (d) {
      Deque<DiskInfo> chain = chainOf(d, target);
      DiskInfo top = chain.peek();
      if (top.source() == null) {
        throw new HypervisorException(HypervisorException.Kind.UNSUPPORTED,
            "simulated disk " + target + " of " + uuid + " is not a file", null);
      }
      try {
        QemuImg.createOverlay(overlay, top.source(), top.format(), 0);
      } catch (IOException e) {
        throw new HypervisorException(HypervisorException.Kind.FAILED,
            "overlay " + overlay + ": " + e.getMessage(), e);
      }
      chain.push(new DiskInfo(target, overlay, "qcow2"));
    }
  }

  @Override
  public void commitActive(String uuid, String target, Duration timeout) {
    Domain d = require(uuid);
    synchronized (d) {
      Deque<DiskInfo> chain = chainOf(d, target);
      if (chain.size() < 2) {
        throw new HypervisorException(HypervisorException.Kind.FAILED,
            "simulated disk " + target + " of " + uuid + " has no overlay to commit", null);
      }
      chain.pop();  // nothing was written to the overlay: pivot back to the image below
    }
  }

  private static Deque<DiskInfo> chainOf(Domain d, String target) {
    Deque<DiskInfo> chain = d.disks.get(target);
    if (chain == null) {
      throw new HypervisorException(HypervisorException.Kind.FAILED,
          "no disk " + target + " on " + d.spec.uuid(), null);
    }
    return chain;
  }

  @Override
  public int freezeFilesystems(String uuid, Duration timeout) {
    return guestAgent(uuid);
  }

  @Override
  public int thawFilesystems(String uuid, Duration timeout) {
    return guestAgent(uuid);
  }

  private int guestAgent(String uuid) {
    Domain d = require(uuid);
    if (!d.spec.guestAgent()) {
      throw new HypervisorException(HypervisorException.Kind.UNSUPPORTED,
          "simulated domain " + uuid + " has no guest agent", null);
    }
    return 1;
  }

  @Override
  public void close() {
    domains.clear();
  }
}
