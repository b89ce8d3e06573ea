package io.stratus.gateway.domain;

import io.stratus.gateway.identity.ImageCaller;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.support.errors.ApiException;
import java.util.Map;
import java.util.Set;

/**
 * The image service's rules for a caller, shared by its gRPC and Glance REST adapters: an
 * image the caller may not see does not exist for it (NOT_FOUND); only its owner's
 * project, an admin or a Stratus service change or delete it (PERMISSION_DENIED); a user
 * creates images in its own project, and only an admin makes one public.
 */
public final class ImageAccess {
  private final ImageBackend backend;
  private final ImageCatalog catalog;

  public ImageAccess(ImageBackend backend, ImageCatalog catalog) {
    this.backend = backend;
    this.catalog = catalog;
  }

  public ImageCatalog catalog() {
    return catalog;
  }

  /** The image, if the caller may see it; otherwise it does not exist for them. */
  public ImageRecord visible(ImageCaller caller, String id) {
    ImageRecord image = catalog.get(id);
    if (!caller.sees(image)) {
      throw ApiException.notFound("image " + image.id() + " not found");
    }
    return image;
  }

  /** The image, if the caller may upload to, change or delete it. */
  public ImageRecord changeable(ImageCaller caller, String id) {
    ImageRecord image = visible(caller, id);
    if (!caller.mayChange(image)) {
      throw ApiException.permissionDenied("image " + image.id() + " belongs to project "
          + image.owner() + ": only its owner or an admin may change it");
    }
    return image;
  }

  /**
   * Creates an image for {@code caller}: owned by its own project whatever the request
   * says (a service names the owner; an admin may), protected when asked, never left
   * half-made.
   */
  public ImageRecord create(ImageCaller caller, NewImage request, boolean protect) {
    ImageRecord created = catalog.create(new NewImage(request.id(), request.name(),
        request.diskFormat(), request.containerFormat(), ownerFor(caller, request),
        request.visibility(), request.minDisk(), request.minRam(), request.properties()));
    if (protect) {
      try {
        created = backend.setProtected(created.id(), true);
      } catch (RuntimeException e) {
        catalog.delete(created.id());
        throw e;
      }
    }
    return created;
  }

  private static String ownerFor(ImageCaller c, NewImage r) {
    String asked = r.owner() == null ? "" : r.owner();
    if (c.service()) {
      return asked;
    }
    if (!asked.isEmpty() && !asked.equals(c.project()) && !c.admin()) {
      throw ApiException.permissionDenied("owner: images are created in your own project ("
          + c.project() + "); only an admin may name another");
    }
    if ("public".equals(r.visibility()) && !c.admin()) {
      throw ApiException.permissionDenied("visibility: only an admin may make an image public");
    }
    return asked.isEmpty() ? c.project() : asked;
  }

  /** The images the caller lists, filtered and paged ({@link ImageCatalog#list}). */
  public ImageCatalog.Page list(ImageCaller caller, String owner, ImageStatus status,
      Map<String, String> properties, int size, String token) {
    return catalog.list(owner, status, properties, size, token, caller::lists);
  }

  /** Renames, sets and removes properties, and (un)protects, if the caller may. */
  public ImageRecord update(ImageCaller caller, String id, String name, Map<String, String> set,
      Set<String> remove, Boolean protect) {
    String checked = changeable(caller, id).id();
    ImageRecord updated = catalog.update(checked, name, set, remove);
    if (protect != null && protect != updated.isProtected()) {
      updated = backend.setProtected(checked, protect);
    }
    return updated;
  }

  /** Deletes the image, if the caller may. */
  public void delete(ImageCaller caller, String id, boolean volumeSnapshotsReleased) {
    catalog.delete(changeable(caller, id).id(), volumeSnapshotsReleased);
  }
}
