package io.stratus.gateway.identity;

import io.grpc.Context;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.support.access.ImageVisibility;

/**
 * Who is calling an image RPC: a user (a client certificate plus a token, resolved to a
 * project) or a Stratus service (the conductor or an agent, acting for a project it
 * names itself; also every caller of a gateway run with {@code tls.insecure=true}).
 *
 * @param project the user's project; empty for a service
 * @param user the user id; empty for a service
 * @param admin the user is an admin
 * @param service the caller is a Stratus service
 */
public record ImageCaller(String project, String user, boolean admin, boolean service) {
  /** The caller of the current call. */
  public static final Context.Key<ImageCaller> KEY = Context.key("stratus-image-caller");

  /** A Stratus service: sees and changes every image. */
  public static final ImageCaller SERVICE = new ImageCaller("", "", false, true);

  /** The caller of the current call, set by {@link CallerInterceptor}. */
  public static ImageCaller current() {
    ImageCaller c = KEY.get();
    if (c == null) {
      throw new IllegalStateException("no caller: the image service runs without its "
          + "CallerInterceptor");
    }
    return c;
  }

  /** Whether this caller may read the image. */
  public boolean sees(ImageRecord image) {
    return service || ImageVisibility.visible(image.owner(), image.visibility(),
        ImageVisibility.members(image.properties()), project, admin);
  }

  /** Whether the image appears in this caller's list. */
  public boolean lists(ImageRecord image) {
    return service || ImageVisibility.listed(image.owner(), image.visibility(),
        ImageVisibility.members(image.properties()), project, admin);
  }

  /** Whether this caller may upload to, change or delete the image. */
  public boolean mayChange(ImageRecord image) {
    return service || ImageVisibility.mutable(image.owner(), project, admin);
  }
}
