package io.stratus.agent;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.RbdDirectImport;
import io.stratus.gateway.store.StoreInfo;
import io.stratus.gateway.store.UploadSink;
import io.stratus.gateway.store.rbd.RbdBackend;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The real RBD store with fault injection in its direct import, for the agent's clean-up
 * tests: every call goes to {@link RbdBackend} unless a fault is armed for the next
 * import. {@link Fault#BEFORE_CLONE} fails before anything happens in Ceph;
 * {@link Fault#CLONE_LEFT_BEHIND} runs {@code onFault} (which makes a real clone of the
 * source snapshot, as a gateway that died mid-flatten leaves it) and then fails.
 */
final class FaultyDirectImport implements ImageBackend, RbdDirectImport {
  enum Fault { BEFORE_CLONE, CLONE_LEFT_BEHIND }

  /** What to do in Ceph when a fault fires: (image id, source pool/image@snapshot). */
  interface OnFault {
    void run(String imageId, String sourceSpec) throws Exception;
  }

  private final RbdBackend store;
  private final AtomicReference<Fault> armed = new AtomicReference<>();
  private volatile OnFault onFault = (id, source) -> { };

  FaultyDirectImport(RbdBackend store) {
    this.store = store;
  }

  void failNextImport(Fault fault, OnFault action) {
    onFault = action;
    armed.set(fault);
  }

  @Override
  public ImageRecord importClone(ImageRecord image, String fsid, String pool, String sourceImage,
      String sourceSnapshot) throws IOException {
    Fault fault = armed.getAndSet(null);
    if (fault == Fault.CLONE_LEFT_BEHIND) {
      try {
        onFault.run(image.id(), pool + "/" + sourceImage + "@" + sourceSnapshot);
      } catch (Exception e) {
        throw new IOException("fault injection failed", e);
      }
    }
    if (fault != null) {
      throw new IOException("injected direct-import failure (" + fault + ")");
    }
    return store.importClone(image, fsid, pool, sourceImage, sourceSnapshot);
  }

  @Override
  public StoreInfo info() {
    return store.info();
  }

  @Override
  public ImageRecord create(NewImage image) {
    return store.create(image);
  }

  @Override
  public Optional<ImageRecord> get(String id) {
    return store.get(id);
  }

  @Override
  public List<ImageRecord> list() {
    return store.list();
  }

  @Override
  public ImageRecord update(String id, String newName, Map<String, String> set, Set<String> remove) {
    return store.update(id, newName, set, remove);
  }

  @Override
  public ImageRecord setProtected(String id, boolean value) {
    return store.setProtected(id, value);
  }

  @Override
  public void delete(String id) throws IOException {
    store.delete(id);
  }

  @Override
  public UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset) throws IOException {
    return store.beginUpload(image, uploadId, virtualSize, resumeOffset);
  }

  @Override
  public long resumableOffset(String id, String uploadId) throws IOException {
    return store.resumableOffset(id, uploadId);
  }

  @Override
  public void kill(String id) throws IOException {
    store.kill(id);
  }

  @Override
  public ExtentSource open(ImageRecord image) throws IOException {
    return store.open(image);
  }

  @Override
  public long storedBytes(String id) throws IOException {
    return store.storedBytes(id);
  }

  @Override
  public void close() throws IOException {
    store.close();
  }
}
