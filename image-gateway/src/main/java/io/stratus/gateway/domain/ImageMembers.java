package io.stratus.gateway.domain;

import io.stratus.gateway.store.ImageBackend;
import io.stratus.support.access.ImageVisibility;
import io.stratus.support.errors.ApiException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The members of {@code shared} images (Glance's image members), kept in the gateway's own
 * property {@value ImageVisibility#MEMBERS_PROPERTY} so every store holds them the same way.
 * Changes of one gateway are serialised; who may make them is the caller's business (the
 * gRPC adapter checks owner and member).
 */
public final class ImageMembers {
  /** Glance's image_member_quota. */
  public static final int MAX_MEMBERS = 128;
  private static final Pattern PROJECT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");
  private static final Set<String> STATUSES = Set.of("pending", "accepted", "rejected");

  private final ImageBackend backend;

  public ImageMembers(ImageBackend backend) {
    this.backend = backend;
  }

  /** Checks a member (project id) field. */
  public static String member(String value) {
    if (value == null || !PROJECT.matcher(value).matches()) {
      throw ApiException.invalidArgument("member", "must be a project id: 1-255 letters,"
          + " digits, '.', '_' or '-', starting with a letter or digit");
    }
    return value;
  }

  /** The members of an image, project → status. */
  public static Map<String, String> of(ImageRecord image) {
    return ImageVisibility.members(image.properties());
  }

  /** Adds {@code member} as pending. */
  public synchronized String add(ImageRecord image, String member) {
    requireShared(image);
    Map<String, String> m = new LinkedHashMap<>(of(current(image)));
    if (m.containsKey(member)) {
      throw ApiException.alreadyExists("project " + member + " is already a member of image "
          + image.id());
    }
    if (m.size() >= MAX_MEMBERS) {
      throw ApiException.resourceExhausted("members: image " + image.id() + " has " + m.size()
          + " members, the limit image_member_quota = " + MAX_MEMBERS);
    }
    m.put(member, "pending");
    store(image, m);
    return "pending";
  }

  /** Sets a member's status. */
  public synchronized String setStatus(ImageRecord image, String member, String status) {
    if (!STATUSES.contains(status)) {
      throw ApiException.invalidArgument("status", "must be accepted, rejected or pending");
    }
    Map<String, String> m = new LinkedHashMap<>(of(current(image)));
    if (!m.containsKey(member)) {
      throw ApiException.notFound("project " + member + " is not a member of image " + image.id());
    }
    m.put(member, status);
    store(image, m);
    return status;
  }

  /** Removes a member. */
  public synchronized void remove(ImageRecord image, String member) {
    Map<String, String> m = new LinkedHashMap<>(of(current(image)));
    if (m.remove(member) == null) {
      throw ApiException.notFound("project " + member + " is not a member of image " + image.id());
    }
    store(image, m);
  }

  private static void requireShared(ImageRecord image) {
    if (!"shared".equals(image.visibility())) {
      throw ApiException.failedPrecondition("image " + image.id() + " is " + image.visibility()
          + ": only shared images have members");
    }
  }

  private ImageRecord current(ImageRecord image) {
    return backend.get(image.id())
        .orElseThrow(() -> ApiException.notFound("image " + image.id() + " not found"));
  }

  private void store(ImageRecord image, Map<String, String> members) {
    if (members.isEmpty()) {
      backend.update(image.id(), null, Map.of(), Set.of(ImageVisibility.MEMBERS_PROPERTY));
    } else {
      backend.update(image.id(), null, Map.of(ImageVisibility.MEMBERS_PROPERTY,
          ImageVisibility.format(members)), Set.of());
    }
  }
}
