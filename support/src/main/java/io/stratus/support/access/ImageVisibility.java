package io.stratus.support.access;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Glance's image visibility rules, in one place for the gateway (which serves images) and
 * the conductor (which boots servers from them): an admin sees every image; a project sees
 * its own images, every {@code public} and {@code community} one, and the {@code shared}
 * images it is a member of; other images do not exist for it (NOT_FOUND, never
 * PERMISSION_DENIED, so their ids leak nothing). Members live in the gateway's property
 * {@value #MEMBERS_PROPERTY} as {@code project=status,…}.
 */
public final class ImageVisibility {
  /** The image property holding a shared image's members. */
  public static final String MEMBERS_PROPERTY = "stratus_members";

  private ImageVisibility() {}

  /** Whether {@code project} (an admin when {@code admin}) may read or boot the image. */
  public static boolean visible(String owner, String visibility, Map<String, String> members,
      String project, boolean admin) {
    if (admin || owns(owner, project)) {
      return true;
    }
    if ("shared".equals(visibility)) {
      return project != null && members.containsKey(project);
    }
    return "public".equals(visibility) || "community".equals(visibility);
  }

  /**
   * Whether the image appears in {@code project}'s image list: its own and public images,
   * and shared ones it accepted, as Glance lists them (community images are bootable by id
   * but not listed).
   */
  public static boolean listed(String owner, String visibility, Map<String, String> members,
      String project, boolean admin) {
    if (admin || owns(owner, project) || "public".equals(visibility)) {
      return true;
    }
    return "shared".equals(visibility) && project != null
        && "accepted".equals(members.get(project));
  }

  /** Whether {@code project} may change or delete the image (owner or admin). */
  public static boolean mutable(String owner, String project, boolean admin) {
    return admin || owns(owner, project);
  }

  /** The members recorded in an image's properties (project → status), in their order. */
  public static Map<String, String> members(Map<String, String> properties) {
    String raw = properties.get(MEMBERS_PROPERTY);
    if (raw == null || raw.isEmpty()) {
      return Map.of();
    }
    Map<String, String> m = new LinkedHashMap<>();
    for (String entry : raw.split(",")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        m.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return Collections.unmodifiableMap(m);
  }

  /** The property value for {@code members}. */
  public static String format(Map<String, String> members) {
    StringBuilder b = new StringBuilder();
    members.forEach((k, v) -> b.append(b.isEmpty() ? "" : ",").append(k).append('=').append(v));
    return b.toString();
  }

  private static boolean owns(String owner, String project) {
    return project != null && !project.isEmpty() && project.equals(owner);
  }
}
