package io.stratus.support.access;

/**
 * Glance's image visibility rules, in one place for the gateway (which serves images) and
 * the conductor (which boots servers from them): an admin sees every image; a project sees
 * its own images and every {@code public} and {@code community} one; {@code private} and
 * {@code shared} images of other projects do not exist for it (NOT_FOUND, never
 * PERMISSION_DENIED, so their ids leak nothing). Image members (Glance's sharing of a
 * {@code shared} image with named projects) are not served yet: a shared image is seen by
 * its owner only.
 */
public final class ImageVisibility {
  private ImageVisibility() {}

  /** Whether {@code project} (an admin when {@code admin}) may read or boot the image. */
  public static boolean visible(String owner, String visibility, String project, boolean admin) {
    if (admin || owns(owner, project)) {
      return true;
    }
    return "public".equals(visibility) || "community".equals(visibility);
  }

  /**
   * Whether the image appears in {@code project}'s image list: its own and public images,
   * as Glance lists them (community images are bootable by id but not listed).
   */
  public static boolean listed(String owner, String visibility, String project, boolean admin) {
    return admin || owns(owner, project) || "public".equals(visibility);
  }

  /** Whether {@code project} may change or delete the image (owner or admin). */
  public static boolean mutable(String owner, String project, boolean admin) {
    return admin || owns(owner, project);
  }

  private static boolean owns(String owner, String project) {
    return project != null && !project.isEmpty() && project.equals(owner);
  }
}
