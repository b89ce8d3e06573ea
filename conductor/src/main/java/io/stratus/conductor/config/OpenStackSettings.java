package io.stratus.conductor.config;

import io.stratus.support.config.OptionalEndpoint;
import io.stratus.support.config.Settings;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The OpenStack REST APIs of the conductor ({@code openstack.*}): where the Keystone
 * subset ({@code openstack.identity.port}, 0: off) and the Nova subset ({@code
 * openstack.compute.port}, 0: off) listen, the public URLs the service catalog names
 * ({@code openstack.compute.url}, default: the address the client used; {@code
 * openstack.image.url}, an image-gateway's Glance API, none by default), the region,
 * the flavors ({@code openstack.flavors}), and the users bootstrapped at start-up ({@code
 * openstack.users}, {@code name:project:role:password,…}; stored hashed).
 */
public record OpenStackSettings(
    OptionalEndpoint identity,
    OptionalEndpoint compute,
    String computeUrl,
    String imageUrl,
    String region,
    String flavors,
    List<User> users) {

  /** A user to create or reset at start-up. */
  public record User(String name, String projectId, ApiToken.Role role, String password) {
    @Override
    public String toString() {
      return "User[" + name + "@" + projectId + ":" + role + "]";  // never the password
    }
  }

  /** The flavors a fresh install has (Nova's classic m1 sizes, and a tiny one for tests). */
  public static final String DEFAULT_FLAVORS = "m1.nano=1:128:1,m1.tiny=1:512:1,"
      + "m1.small=1:2048:20,m1.medium=2:4096:40,m1.large=4:8192:80";

  public OpenStackSettings {
    users = List.copyOf(users);
  }

  /** Reads the {@code openstack.*} keys. */
  public static OpenStackSettings read(Settings s, String listenHost) {
    String usersSpec = s.string("openstack.users", "");
    List<User> users = new ArrayList<>();
    for (String entry : usersSpec.split(",")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      String[] p = e.split(":", 4);
      if (p.length != 4 || p[0].isEmpty() || p[1].isEmpty() || p[3].isEmpty()) {
        s.problem("openstack.users entry must be name:project:role:password, got '"
            + (p.length > 0 ? p[0] : "") + ":…'");
        continue;
      }
      try {
        users.add(new User(p[0], p[1], ApiToken.Role.valueOf(p[2].toUpperCase(Locale.ROOT)),
            p[3]));
      } catch (IllegalArgumentException ex) {
        s.problem("openstack.users role must be member or admin, got '" + p[2] + "'");
      }
    }
    return new OpenStackSettings(
        OptionalEndpoint.read(s, "openstack.identity", listenHost),
        OptionalEndpoint.read(s, "openstack.compute", listenHost),
        emptyToNull(s.string("openstack.compute.url", "")),
        emptyToNull(s.string("openstack.image.url", "")),
        s.string("openstack.region", "RegionOne"),
        s.string("openstack.flavors", DEFAULT_FLAVORS),
        users);
  }

  /** No REST API (tests of other parts). */
  public static OpenStackSettings off() {
    return new OpenStackSettings(new OptionalEndpoint("127.0.0.1", 0),
        new OptionalEndpoint("127.0.0.1", 0), null, null, "RegionOne", "", List.of());
  }

  private static String emptyToNull(String v) {
    return v == null || v.isEmpty() ? null : v.replaceAll("/+$", "");
  }
}
