package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.support.config.ConfigException;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestExchange;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Nova's flavors, which Stratus servers do not have (a server is created with its vCPUs,
 * memory and root disk): a fixed list the operator configures ({@code openstack.flavors},
 * {@code name=VCPUS:RAM_MB:DISK_GB,…}; the flavor's id is its name). A server whose sizes
 * match no configured flavor shows the synthetic flavor {@code v<V>-m<M>-d<D>}, which
 * {@link #find} answers too, so that a client can always look up what a server shows.
 */
public final class Flavors {
  /** A flavor: Nova's id (here its name), vCPUs, RAM in MiB, root disk in GiB. */
  public record Flavor(String id, int vcpus, int ramMb, int diskGb) {}

  private static final Pattern SYNTHETIC = Pattern.compile("v(\\d{1,2})-m(\\d{2,7})-d(\\d{1,5})");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private final Map<String, Flavor> byId;

  private Flavors(Map<String, Flavor> byId) {
    this.byId = byId;
  }

  /** Parses {@code name=VCPUS:RAM_MB:DISK_GB,…}; a ConfigException names the bad entry. */
  public static Flavors parse(String spec) {
    Map<String, Flavor> flavors = new LinkedHashMap<>();
    List<String> problems = new ArrayList<>();
    for (String entry : spec.split(",")) {
      String e = entry.strip();
      if (e.isEmpty()) {
        continue;
      }
      String[] kv = e.split("=", 2);
      String[] sizes = kv.length == 2 ? kv[1].split(":") : new String[0];
      if (kv.length != 2 || !NAME.matcher(kv[0]).matches() || sizes.length != 3) {
        problems.add("openstack.flavors: '" + e + "' is not name=VCPUS:RAM_MB:DISK_GB");
        continue;
      }
      try {
        flavors.put(kv[0], new Flavor(kv[0], Integer.parseInt(sizes[0]),
            Integer.parseInt(sizes[1]), Integer.parseInt(sizes[2])));
      } catch (NumberFormatException x) {
        problems.add("openstack.flavors: '" + e + "' has a size that is not a number");
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException("conductor", problems);
    }
    return new Flavors(flavors);
  }

  /** The configured flavors, in the configured order. */
  public List<Flavor> list() {
    return List.copyOf(byId.values());
  }

  /** The flavor with this id: a configured one, or a synthetic one; 404 otherwise. */
  public Flavor find(String id) {
    Flavor f = byId.get(id);
    if (f != null) {
      return f;
    }
    Matcher m = SYNTHETIC.matcher(id);
    if (m.matches()) {
      return new Flavor(id, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
          Integer.parseInt(m.group(3)));
    }
    throw ApiException.notFound("Flavor " + id + " could not be found.");
  }

  /** The id a server of these sizes shows: the first configured match, else synthetic. */
  public String idOf(int vcpus, int ramMb, int diskGb) {
    Optional<Flavor> match = byId.values().stream()
        .filter(f -> f.vcpus() == vcpus && f.ramMb() == ramMb && f.diskGb() == diskGb)
        .findFirst();
    return match.map(Flavor::id).orElse("v" + vcpus + "-m" + ramMb + "-d" + diskGb);
  }

  /** Nova's flavor JSON; {@code detail} adds the sizes and extension fields. */
  static ObjectNode json(String base, Flavor f, boolean detail) {
    ObjectNode o = RestExchange.JSON.createObjectNode();
    o.put("id", f.id());
    o.put("name", f.id());
    o.set("links", NovaViews.links(base, null, "flavors", f.id()));
    if (detail) {
      o.put("ram", f.ramMb());
      o.put("disk", f.diskGb());
      o.put("vcpus", f.vcpus());
      o.put("swap", "");
      o.put("OS-FLV-EXT-DATA:ephemeral", 0);
      o.put("OS-FLV-DISABLED:disabled", false);
      o.put("os-flavor-access:is_public", true);
      o.put("rxtx_factor", 1.0);
    }
    return o;
  }
}
