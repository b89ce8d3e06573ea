package io.stratus.conductor.openstack;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.compute.ActionView;
import io.stratus.conductor.compute.ServerView;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.support.rest.RestExchange;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Nova's JSON for servers and instance actions at microversion 2.1, field for field as
 * the API reference gives them (Stratus has no networks, key pairs or security groups of
 * its own: those fields hold what Nova shows for a server without them).
 */
final class NovaViews {
  private static final DateTimeFormatter SECONDS = DateTimeFormatter
      .ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter MICROS = DateTimeFormatter
      .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS", Locale.ROOT).withZone(ZoneOffset.UTC);

  private NovaViews() {}

  /** Nova's {@code status} of a vm_state and task_state ({@code nova/api/openstack/common.py}). */
  static String status(VmState vm, TaskState task) {
    if (vm == VmState.ACTIVE && task != null) {
      switch (task) {
        case REBOOTING, REBOOT_PENDING, REBOOT_STARTED -> {
          return "REBOOT";
        }
        case REBOOTING_HARD, REBOOT_PENDING_HARD, REBOOT_STARTED_HARD -> {
          return "HARD_REBOOT";
        }
        default -> { }
      }
    }
    if (vm == VmState.STOPPED && task != null && task.name().startsWith("REBOOT")) {
      return "REBOOT";
    }
    return switch (vm) {
      case BUILDING -> "BUILD";
      case ACTIVE -> "ACTIVE";
      case STOPPED -> "SHUTOFF";
      case PAUSED -> "PAUSED";
      case SUSPENDED -> "SUSPENDED";
      case ERROR -> "ERROR";
      case DELETED -> "DELETED";
    };
  }

  /** The brief form of a list ({@code id}, {@code name}, {@code links}). */
  static ObjectNode brief(String base, ServerView s) {
    ObjectNode o = RestExchange.JSON.createObjectNode();
    o.put("id", s.uuid().toString());
    o.put("name", s.name());
    o.set("links", links(base, s.projectId(), "servers", s.uuid().toString()));
    return o;
  }

  /** The detailed form (show, list detail). */
  static ObjectNode detail(String base, ServerView s, boolean admin, Flavors flavors) {
    ObjectNode o = RestExchange.JSON.createObjectNode();
    String id = s.uuid().toString();
    o.putObject("addresses");
    o.put("created", SECONDS.format(s.createdAt()));
    ObjectNode flavor = o.putObject("flavor");
    String flavorId = flavors.idOf(s.vcpus(), s.memoryMb(), s.rootGb());
    flavor.put("id", flavorId);
    flavor.set("links", bookmark(base, s.projectId(), "flavors", flavorId));
    o.put("hostId", hostId(s.projectId(), s.host()));
    o.put("id", id);
    if (s.volumes().stream().anyMatch(v -> v.bootIndex() == 0)) {
      o.put("image", "");  // booted from a volume: Nova shows an empty string
    } else {
      ObjectNode image = o.putObject("image");
      image.put("id", s.imageRef());
      image.set("links", bookmark(base, s.projectId(), "images", s.imageRef()));
    }
    o.putNull("key_name");
    o.set("links", links(base, s.projectId(), "servers", id));
    ObjectNode metadata = o.putObject("metadata");
    s.metadata().forEach(metadata::put);
    o.put("name", s.name());
    o.put("accessIPv4", "").put("accessIPv6", "").put("config_drive", "");
    o.put("progress", 0);
    o.put("status", status(s.vmState(), s.taskState()));
    o.put("tenant_id", s.projectId());
    o.put("updated", SECONDS.format(s.updatedAt()));
    o.put("user_id", s.userId());
    o.put("OS-DCF:diskConfig", "MANUAL");
    o.put("OS-EXT-AZ:availability_zone", "nova");
    if (admin) {
      o.put("OS-EXT-SRV-ATTR:host", s.host());
      o.put("OS-EXT-SRV-ATTR:hypervisor_hostname", s.host());
      o.put("OS-EXT-SRV-ATTR:instance_name", "instance-" + id);
    }
    o.put("OS-EXT-STS:power_state", s.powerState().code());
    o.put("OS-EXT-STS:task_state",
        s.taskState() == null ? null : s.taskState().dbName());
    o.put("OS-EXT-STS:vm_state", s.vmState().dbName());
    o.put("OS-SRV-USG:launched_at", s.vmState() == VmState.BUILDING ? null
        : MICROS.format(s.createdAt()));
    o.put("OS-SRV-USG:terminated_at", s.deletedAt() == null ? null
        : MICROS.format(s.deletedAt()));
    ArrayNode volumes = o.putArray("os-extended-volumes:volumes_attached");
    s.volumes().forEach(v -> volumes.addObject().put("id", v.id().toString()));
    o.putArray("security_groups").addObject().put("name", "default");
    s.fault().ifPresent(f -> {
      ObjectNode fault = o.putObject("fault");
      fault.put("code", f.code() >= 400 ? f.code() : 500);
      fault.put("created", SECONDS.format(f.createdAt()));
      fault.put("message", f.message());
      if (admin && f.details() != null) {
        fault.put("details", f.details());
      }
    });
    return o;
  }

  /** An instance action ({@code os-instance-actions}); events only when asked. */
  static ObjectNode action(ActionView a, boolean withEvents, boolean admin) {
    ObjectNode o = RestExchange.JSON.createObjectNode();
    o.put("action", a.action());
    o.put("instance_uuid", a.serverId().toString());
    o.put("message", a.message());
    o.put("project_id", a.projectId());
    o.put("request_id", a.requestId());
    o.put("start_time", MICROS.format(a.startTime()));
    o.put("user_id", a.userId());
    if (withEvents) {
      ArrayNode events = o.putArray("events");
      for (ActionView.Event e : a.events()) {
        ObjectNode ev = events.addObject();
        ev.put("event", e.event());
        ev.put("start_time", MICROS.format(e.startTime()));
        ev.put("finish_time", e.finishTime() == null ? null : MICROS.format(e.finishTime()));
        ev.put("result", e.result());
        if (admin) {
          ev.put("traceback", e.result() != null && e.result().equals("Error")
              ? e.details() : null);
        }
      }
    }
    return o;
  }

  /** Nova's hostId: SHA-224 of the project and host, so projects cannot map hosts. */
  static String hostId(String projectId, String host) {
    if (host == null || host.isEmpty()) {
      return "";
    }
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-224")
          .digest((projectId + host).getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-224 is missing from this JDK", e);
    }
  }

  static ArrayNode links(String base, String project, String kind, String id) {
    ArrayNode links = RestExchange.JSON.createArrayNode();
    links.addObject().put("rel", "self").put("href", base + "/v2.1/" + kind + "/" + id);
    links.addObject().put("rel", "bookmark").put("href", base + "/" + kind + "/" + id);
    return links;
  }

  private static ArrayNode bookmark(String base, String project, String kind, String id) {
    ArrayNode links = RestExchange.JSON.createArrayNode();
    links.addObject().put("rel", "bookmark").put("href", base + "/" + kind + "/" + id);
    return links;
  }
}
