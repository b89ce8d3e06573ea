package io.stratus.gateway.store;

import io.stratus.gateway.domain.ImageRecord;
import java.io.IOException;

/**
 * Optional capability of a Ceph RBD store (Nova's direct snapshot): turn a protected
 * snapshot of an instance disk in the same cluster into the image's content without any
 * bytes passing through the gateway — clone into the image pool, flatten, protected
 * snapshot {@code snap}, location {@code rbd://fsid/pool/image/snap}.
 */
public interface RbdDirectImport {
  /** Imports into a queued image and activates it; FAILED_PRECONDITION for another fsid. */
  ImageRecord importClone(ImageRecord image, String fsid, String pool, String sourceImage,
      String sourceSnapshot) throws IOException;
}
