package io.stratus.agent.disk;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What to read for a point-in-time disk image: from qemu-img's map of an immutable chain,
 * the data extents (file + host offset, split into reads of at most {@code maxRead} bytes
 * that never cross a multiple of {@code maxRead} in the guest, so each lies in one content
 * digest chunk when {@code maxRead} is the chunk size) and the zero ranges between them,
 * merged, in guest order.
 */
public final class ExtentPlan {
  private final List<DiskExtent> extents;
  private final long virtualSize;

  private ExtentPlan(List<DiskExtent> extents, long virtualSize) {
    this.extents = extents;
    this.virtualSize = virtualSize;
  }

  /** Plans the read of {@code top}'s whole chain. */
  public static ExtentPlan of(Path top, int maxRead) throws IOException {
    List<QemuImg.ChainLink> chain = QemuImg.chain(top);
    return of(chain, QemuImg.map(top), maxRead);
  }

  static ExtentPlan of(List<QemuImg.ChainLink> chain, List<QemuImg.MapEntry> map, int maxRead)
      throws IOException {
    List<DiskExtent> out = new ArrayList<>();
    for (QemuImg.MapEntry e : map) {
      if (!e.data()) {
        addZero(out, e.start(), e.length());
        continue;
      }
      if (!e.hasHostOffset()) {
        throw new UnsupportedExtentException("extent at " + e.start()
            + " has no host offset (compressed or encrypted cluster)");
      }
      QemuImg.ChainLink link = chain.get(e.depth());
      if (!link.format().equals("raw") && !link.format().equals("qcow2")) {
        throw new UnsupportedExtentException("format " + link.format() + " of " + link.file());
      }
      for (long done = 0; done < e.length(); ) {
        long at = e.start() + done;
        long n = Math.min(maxRead - at % maxRead, e.length() - done);
        out.add(new DiskExtent(at, n, link.file(), e.hostOffset() + done));
        done += n;
      }
    }
    return new ExtentPlan(out, chain.get(0).virtualSize());
  }

  private static void addZero(List<DiskExtent> out, long offset, long length) {
    if (!out.isEmpty()) {
      DiskExtent last = out.get(out.size() - 1);
      if (!last.isData() && last.offset() + last.length() == offset) {
        out.set(out.size() - 1, DiskExtent.zero(last.offset(), last.length() + length));
        return;
      }
    }
    out.add(DiskExtent.zero(offset, length));
  }

  public List<DiskExtent> extents() {
    return extents;
  }

  public long virtualSize() {
    return virtualSize;
  }

  /** Bytes that will be read and sent. */
  public long dataBytes() {
    return extents.stream().filter(DiskExtent::isData).mapToLong(DiskExtent::length).sum();
  }

  /** A cluster without a host offset: read it through qemu instead (not supported yet). */
  public static final class UnsupportedExtentException extends IOException {
    private static final long serialVersionUID = 1L;

    UnsupportedExtentException(String message) {
      super(message);
    }
  }
}
