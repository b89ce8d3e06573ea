package io.stratus.conductor.compute;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.conductor.db.VolumeEntity;
import io.stratus.conductor.db.VolumeSnapshotEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.proto.agent.v1.VolumeSnapshot;
import io.stratus.support.errors.ApiException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/**
 * The volumes of a volume-backed server (Nova boot from volume), and the image properties
 * of its snapshots (Nova snapshot_volume_backed), in Nova's shapes:
 *
 * <ul>
 *   <li>from the request's block devices: a volume per device, devices vda, vdb, … with
 *       the boot volume first;
 *   <li>from an image whose properties say {@code bdm_v2=True}: a volume cloned from each
 *       volume snapshot its {@code block_device_mapping} JSON lists;
 *   <li>the properties of a volume-backed snapshot image: {@code bdm_v2=True},
 *       {@code root_device_name=/dev/vda}, {@code block_device_mapping} (a JSON list of
 *       {@code {"source_type":"snapshot","destination_type":"volume","snapshot_id":…,
 *       "boot_index":…,"device_name":"/dev/vdX","volume_size":GB,
 *       "delete_on_termination":true}}).
 * </ul>
 */
public final class VolumePlan {
  /** At most this many volumes per server. */
  public static final int MAX_VOLUMES = 8;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One requested block device (Nova block_device_mapping_v2, destination volume). */
  public record BlockDevice(String sourceType, String uuid, int volumeSizeGb, int bootIndex,
      boolean deleteOnTermination) {}

  private VolumePlan() {}

  /** Whether an image's properties make it a volume-backed snapshot. */
  public static boolean isVolumeBackedImage(Map<String, String> properties) {
    return "true".equalsIgnoreCase(properties.getOrDefault("bdm_v2", ""))
        && properties.containsKey("block_device_mapping");
  }

  /** Volumes for the request's block devices; INVALID_ARGUMENT naming the field. */
  public static List<VolumeEntity> fromBlockDevices(List<BlockDevice> devices, UUID instance,
      String project, String pool, Instant now) {
    if (devices.size() > MAX_VOLUMES) {
      throw ApiException.invalidArgument("block_devices", "at most " + MAX_VOLUMES + " volumes");
    }
    long boot = devices.stream().filter(d -> d.bootIndex() == 0).count();
    if (boot != 1) {
      throw ApiException.invalidArgument("block_devices",
          "exactly one needs boot_index 0, got " + boot);
    }
    List<BlockDevice> ordered = new ArrayList<>();
    devices.stream().filter(d -> d.bootIndex() == 0).forEach(ordered::add);
    devices.stream().filter(d -> d.bootIndex() != 0).forEach(ordered::add);
    List<VolumeEntity> volumes = new ArrayList<>();
    for (int n = 0; n < ordered.size(); n++) {
      BlockDevice d = ordered.get(n);
      String field = "block_devices[" + devices.indexOf(d) + "]";
      if (d.bootIndex() != 0 && d.bootIndex() != -1) {
        throw ApiException.invalidArgument(field + ".boot_index", "must be 0 or -1");
      }
      if (d.volumeSizeGb() < 0 || d.volumeSizeGb() > 16_384) {
        throw ApiException.invalidArgument(field + ".volume_size_gb", "must be 0..16384");
      }
      String source;
      String sourceId = null;
      switch (d.sourceType()) {
        case "image" -> {
          source = "image";
          if (d.uuid() == null || d.uuid().isBlank()) {
            throw ApiException.invalidArgument(field + ".uuid", "an image volume needs the image id");
          }
          sourceId = d.uuid();
        }
        case "blank" -> {
          source = "blank";
          if (d.volumeSizeGb() == 0) {
            throw ApiException.invalidArgument(field + ".volume_size_gb",
                "a blank volume needs a size");
          }
        }
        default -> throw ApiException.invalidArgument(field + ".source_type",
            "must be IMAGE or BLANK");
      }
      volumes.add(new VolumeEntity(UUID.randomUUID(), project, instance, pool,
          (long) d.volumeSizeGb() << 30, device(n), d.bootIndex(), d.deleteOnTermination(), source,
          sourceId, now));
    }
    return volumes;
  }

  /**
   * Volumes cloned from the volume snapshots a volume-backed snapshot image lists;
   * FAILED_PRECONDITION when the list is unreadable or a snapshot no longer exists.
   */
  public static List<VolumeEntity> fromSnapshotImage(Session session, VolumeStore store,
      String imageId, Map<String, String> properties, UUID instance, String project, String pool,
      Instant now) {
    JsonNode list;
    try {
      list = JSON.readTree(properties.get("block_device_mapping"));
    } catch (JsonProcessingException e) {
      throw ApiException.failedPrecondition("image " + imageId
          + " has an unreadable block_device_mapping: " + e.getOriginalMessage());
    }
    if (list == null || !list.isArray() || list.isEmpty() || list.size() > MAX_VOLUMES) {
      throw ApiException.failedPrecondition("image " + imageId
          + " has no usable block_device_mapping (a list of 1.." + MAX_VOLUMES + " entries)");
    }
    List<VolumeEntity> volumes = new ArrayList<>();
    for (JsonNode bdm : list) {
      String snapshotId = bdm.path("snapshot_id").asText("");
      Optional<VolumeSnapshotEntity> snap;
      try {
        snap = store.findSnapshot(session, UUID.fromString(snapshotId));
      } catch (IllegalArgumentException e) {
        snap = Optional.empty();
      }
      if (snap.isEmpty()) {
        throw ApiException.failedPrecondition("image " + imageId + " lists volume snapshot '"
            + snapshotId + "', which does not exist");
      }
      String device = bdm.path("device_name").asText("").replaceFirst("^/dev/", "");
      if (!device.matches("vd[a-z]")) {
        throw ApiException.failedPrecondition("image " + imageId + " lists device '"
            + bdm.path("device_name").asText("") + "'; expected /dev/vdX");
      }
      volumes.add(new VolumeEntity(UUID.randomUUID(), project, instance, pool,
          snap.get().sizeBytes(), device, bdm.path("boot_index").asInt(-1),
          bdm.path("delete_on_termination").asBoolean(true), "snapshot",
          snap.get().id().toString(), now));
    }
    if (volumes.stream().filter(v -> v.bootIndex() == 0).count() != 1) {
      throw ApiException.failedPrecondition("image " + imageId
          + " block_device_mapping needs exactly one entry with boot_index 0");
    }
    return volumes;
  }

  /** The properties of the image of a volume-backed snapshot (Nova's shapes). */
  public static Map<String, String> imageProperties(List<VolumeSnapshotEntity> snapshots,
      List<VolumeSnapshot> taken) {
    ArrayNode list = JSON.createArrayNode();
    for (int n = 0; n < snapshots.size(); n++) {
      VolumeSnapshotEntity s = snapshots.get(n);
      VolumeSnapshot t = taken.get(n);
      ObjectNode bdm = list.addObject();
      bdm.put("source_type", "snapshot");
      bdm.put("destination_type", "volume");
      bdm.put("snapshot_id", s.id().toString());
      bdm.put("boot_index", t.getBootIndex());
      bdm.put("device_name", "/dev/" + t.getDevice());
      bdm.put("volume_size", (t.getSize() + (1L << 30) - 1) >> 30);
      bdm.put("delete_on_termination", true);
    }
    return Map.of("bdm_v2", "True", "root_device_name", "/dev/vda",
        "block_device_mapping", list.toString());
  }

  /** vda, vdb, … */
  static String device(int n) {
    return "vd" + (char) ('a' + n);
  }
}
