package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.hypervisor.HypervisorException.Kind;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.libvirt.Domain;
import org.libvirt.DomainSnapshot;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link Hypervisor} on libvirt (libvirt-java plus a few JNA bindings). Domains are addressed
 * by UUID; no {@code org.libvirt} type leaves this package. Thread-safe: all calls share one
 * connection, which libvirt serialises per domain itself.
 *
 * <p>Works against {@code qemu:///system} and, for everything but disk-only snapshots and block
 * commit (reported as {@link Kind#UNSUPPORTED}), against {@code test:///default}.
 */
public final class LibvirtHypervisor implements Hypervisor {

  private static final Logger LOG = LoggerFactory.getLogger(LibvirtHypervisor.class);

  /** MANAGED_SAVE | SNAPSHOTS_METADATA | CHECKPOINTS_METADATA. */
  private static final int UNDEFINE_FLAGS = 1 | 2 | 16;
  /** MANAGED_SAVE | SNAPSHOTS_METADATA, for drivers without checkpoints. */
  private static final int UNDEFINE_FLAGS_NO_CHECKPOINTS = 1 | 2;
  /** DISK_ONLY | ATOMIC | NO_METADATA; libvirt creates the overlay file. */
  private static final int SNAPSHOT_FLAGS = 16 | 128 | 4;

  private final LibvirtConnection connection;
  private final DomainXml domainXml;

  /**
   * Connects to {@code uri} and defines TCG ({@code qemu}) domains.
   *
   * @throws HypervisorException if the connection cannot be opened
   */
  public LibvirtHypervisor(String uri) {
    this(uri, new DomainXml());
  }

  /**
   * Connects to {@code uri} and defines domains with {@code domainXml} (e.g. for {@code kvm}).
   *
   * @throws HypervisorException if the connection cannot be opened
   */
  public LibvirtHypervisor(String uri, DomainXml domainXml) {
    this.domainXml = Objects.requireNonNull(domainXml, "domainXml");
    this.connection = new LibvirtConnection(Objects.requireNonNull(uri, "uri"));
  }

  @Override
  public String uri() {
    return connection.uri();
  }

  @Override
  public Optional<DomainInfo> find(String uuid) {
    try {
      return Optional.of(connection.onDomain(uuid, "find", this::info));
    } catch (HypervisorException e) {
      if (e.kind() == Kind.NO_DOMAIN) {
        return Optional.empty();
      }
      throw e;
    }
  }

  @Override
  public List<DomainInfo> list() {
    return connection.call("list domains", c -> {
      Domain[] domains = c.listAllDomains(0);
      List<DomainInfo> infos = new ArrayList<>(domains.length);
      try {
        for (Domain domain : domains) {
          infoUnlessGone(domain).ifPresent(infos::add);
        }
      } finally {
        for (Domain domain : domains) {
          LibvirtConnection.free(domain);
        }
      }
      return infos;
    });
  }

  @Override
  public void define(DomainSpec spec) {
    String xml = domainXml.build(spec);
    if (spec.consoleLog() != null) {
      // virtlogd creates the log file at start, but not its directory (an instance on RBD
      // has no other file there)
      try {
        java.nio.file.Files.createDirectories(spec.consoleLog().getParent());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("cannot create the directory of "
            + spec.consoleLog(), e);
      }
    }
    connection.call("define domain " + spec.uuid(), c -> {
      LibvirtConnection.free(c.domainDefineXML(xml));
      return null;
    });
    LOG.info("domain {}: defined as '{}' ({} vCPU, {} MiB, root {})", spec.uuid(), spec.name(),
        spec.vcpus(), spec.memoryMb(), spec.root());
  }

  @Override
  public void undefine(String uuid) {
    try {
      connection.onDomain(uuid, "undefine", domain -> {
        try {
          domain.undefine(UNDEFINE_FLAGS);
        } catch (LibvirtException e) {
          if (LibvirtErrors.code(e) != LibvirtErrors.INVALID_ARG) {
            throw e;
          }
          domain.undefine(UNDEFINE_FLAGS_NO_CHECKPOINTS);
        }
        return null;
      });
      LOG.info("domain {}: undefined", uuid);
    } catch (HypervisorException e) {
      if (e.kind() != Kind.NO_DOMAIN) {
        throw e;
      }
      LOG.debug("domain {}: undefine: not defined", uuid);
    }
  }

  @Override
  public void start(String uuid) {
    long startedAt = System.nanoTime();
    connection.onDomain(uuid, "start", Domain::create);
    LOG.info("domain {}: started in {} ms", uuid, millisSince(startedAt));
  }

  @Override
  public void destroy(String uuid) {
    long startedAt = System.nanoTime();
    boolean destroyed = connection.onDomain(uuid, "destroy", domain -> {
      if (domain.isActive() == 0) {
        return false;
      }
      try {
        domain.destroy();
        return true;
      } catch (LibvirtException e) {
        // It may have stopped between the check and the call.
        if (LibvirtErrors.code(e) == LibvirtErrors.OPERATION_INVALID && domain.isActive() == 0) {
          return false;
        }
        throw e;
      }
    });
    if (destroyed) {
      LOG.info("domain {}: destroyed in {} ms", uuid, millisSince(startedAt));
    } else {
      LOG.debug("domain {}: destroy: not running", uuid);
    }
  }

  @Override
  public void shutdown(String uuid) {
    connection.onDomain(uuid, "shutdown", domain -> {
      domain.shutdown();
      return null;
    });
    LOG.info("domain {}: ACPI shutdown requested", uuid);
  }

  @Override
  public void suspend(String uuid) {
    connection.onDomain(uuid, "suspend", domain -> {
      domain.suspend();
      return null;
    });
    LOG.info("domain {}: paused", uuid);
  }

  @Override
  public void resume(String uuid) {
    connection.onDomain(uuid, "resume", domain -> {
      domain.resume();
      return null;
    });
    LOG.info("domain {}: resumed", uuid);
  }

  @Override
  public void managedSave(String uuid) {
    long startedAt = System.nanoTime();
    connection.onDomain(uuid, "managed save", Domain::managedSave);
    LOG.info("domain {}: memory saved and stopped in {} ms", uuid, millisSince(startedAt));
  }

  @Override
  public List<DiskInfo> disks(String uuid) {
    return connection.onDomain(uuid, "list disks",
        domain -> DomainDisks.parse(domain.getXMLDesc(0)).fileDisks());
  }

  @Override
  public void snapshotDiskOnly(String uuid, String target, Path overlay) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(overlay, "overlay");
    long startedAt = System.nanoTime();
    connection.onDomain(uuid, "disk-only snapshot of " + target, domain -> {
      DomainDisks disks = DomainDisks.parse(domain.getXMLDesc(0));
      if (!disks.hasTarget(target)) {
        throw new HypervisorException(Kind.FAILED,
            "disk-only snapshot of domain " + uuid + ": it has no disk " + target, null);
      }
      DomainSnapshot snapshot =
          domain.snapshotCreateXML(DiskSnapshotXml.build(disks, target, overlay), SNAPSHOT_FLAGS);
      snapshot.free();
      return null;
    });
    LOG.info("domain {}: disk-only snapshot of {} to {} in {} ms", uuid, target, overlay,
        millisSince(startedAt));
  }

  @Override
  public void commitActive(String uuid, String target, Duration timeout) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(timeout, "timeout");
    connection.onDomain(uuid, "active commit of " + target, domain -> {
      new ActiveCommit(domain, connection.natives(), uuid, target, timeout).run();
      return null;
    });
  }

  @Override
  public int freezeFilesystems(String uuid, Duration timeout) {
    long startedAt = System.nanoTime();
    int frozen = connection.onDomain(uuid, "guest filesystem freeze",
        domain -> connection.natives().freezeFilesystems(domain, agentTimeout(timeout)));
    LOG.info("domain {}: froze {} guest filesystems in {} ms", uuid, frozen, millisSince(startedAt));
    return frozen;
  }

  @Override
  public int thawFilesystems(String uuid, Duration timeout) {
    int thawed = connection.onDomain(uuid, "guest filesystem thaw",
        domain -> connection.natives().thawFilesystems(domain, agentTimeout(timeout)));
    LOG.info("domain {}: thawed {} guest filesystems", uuid, thawed);
    return thawed;
  }

  private static int agentTimeout(Duration timeout) {
    return (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toSeconds()));
  }

  /** Closes the connection; waits for calls in progress. Later calls fail. */
  @Override
  public void close() {
    connection.close();
  }

  private DomainInfo info(Domain domain) throws LibvirtException, LibvirtNative.Failure {
    LibvirtNative.State state = connection.natives().state(domain);
    return new DomainInfo(domain.getUUIDString(), domain.getName(), PowerStates.of(state.state()),
        domain.isPersistent() == 1, domain.hasManagedSaveImage() == 1);
  }

  /** The domain's info, or empty if it was undefined while the list was being read. */
  private Optional<DomainInfo> infoUnlessGone(Domain domain)
      throws LibvirtException, LibvirtNative.Failure {
    try {
      return Optional.of(info(domain));
    } catch (LibvirtException e) {
      if (LibvirtErrors.code(e) == LibvirtErrors.NO_DOMAIN) {
        return Optional.empty();
      }
      throw e;
    } catch (LibvirtNative.Failure e) {
      if (e.code() == LibvirtErrors.NO_DOMAIN) {
        return Optional.empty();
      }
      throw e;
    }
  }

  private static long millisSince(long startedAt) {
    return (System.nanoTime() - startedAt) / 1_000_000;
  }
}
