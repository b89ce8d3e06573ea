package io.stratus.cli;

import io.stratus.proto.conductor.v1.ListServersRequest;
import io.stratus.proto.conductor.v1.ListServersResponse;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.ListImagesResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Resolves what a user typed for a server or an image, as the OpenStack client does: a
 * UUID is taken as it is; anything else is a name, which must match exactly one server (of
 * the caller's project) or image. A name that matches several is an error listing them.
 */
public final class Names {
  private Names() {}

  /** The id of the server {@code ref} (an id or a name). */
  public static String server(Session session, String ref) {
    if (isUuid(ref)) {
      return ref;
    }
    List<String> ids = new ArrayList<>();
    String token = "";
    do {
      ListServersResponse page = session.clients().servers().listServers(ListServersRequest
          .newBuilder().setNamePrefix(ref).setPageSize(1000).setPageToken(token).build());
      page.getServersList().stream().filter(s -> s.getName().equals(ref))
          .forEach(s -> ids.add(s.getId()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return one("server", ref, ids);
  }

  /** The id of the image {@code ref} (an id or a name). */
  public static String image(Session session, String ref) {
    if (isUuid(ref)) {
      return ref;
    }
    List<String> ids = new ArrayList<>();
    String token = "";
    do {
      ListImagesResponse page = session.clients().images().listImages(ListImagesRequest
          .newBuilder().setPageSize(1000).setPageToken(token).build());
      page.getImagesList().stream().filter(i -> i.getName().equals(ref))
          .forEach(i -> ids.add(i.getId()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return one("image", ref, ids);
  }

  private static String one(String kind, String ref, List<String> ids) {
    if (ids.isEmpty()) {
      throw CliException.failed("no " + kind + " with name or id '" + ref + "'");
    }
    if (ids.size() > 1) {
      throw CliException.failed("more than one " + kind + " is named '" + ref + "': "
          + String.join(", ", ids) + "; use an id");
    }
    return ids.get(0);
  }

  private static boolean isUuid(String s) {
    try {
      return UUID.fromString(s).toString().equalsIgnoreCase(s);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
