package io.stratus.cli.image;

import io.stratus.cli.output.Formats;
import io.stratus.cli.output.States;
import io.stratus.cli.output.Table;
import io.stratus.proto.image.v1.Image;
import java.util.List;

/** Table layouts of images. */
public final class ImageTables {
  private ImageTables() {}

  public static Table list(List<Image> images) {
    Table t = Table.columns("ID", "Name", "Status", "Disk Format", "Size", "Owner");
    for (Image i : images) {
      t.row(i.getId(), i.getName(), States.image(i.getStatus()), i.getDiskFormat(),
          Formats.bytes(i.getSize()), i.getOwner());
    }
    return t;
  }

  public static Table show(Image i) {
    return Table.fields()
        .row("id", i.getId())
        .row("name", i.getName())
        .row("status", States.image(i.getStatus()))
        .row("disk_format", i.getDiskFormat())
        .row("container_format", i.getContainerFormat())
        .row("size", i.getSize())
        .row("virtual_size", i.getVirtualSize())
        .row("content_digest", i.getContentDigest())
        .row("checksum", pending(i, i.getChecksum()))
        .row("os_hash_algo", i.getOsHashAlgo())
        .row("os_hash_value", pending(i, i.getOsHashValue()))
        .row("owner", i.getOwner())
        .row("visibility", i.getVisibility())
        .row("protected", i.getProtected())
        .row("min_disk", i.getMinDisk())
        .row("min_ram", i.getMinRam())
        .row("properties", Formats.map(i.getPropertiesMap()))
        .row("locations", String.join(", ", i.getLocationsList()))
        .row("created_at", Formats.time(i.getCreatedAt()))
        .row("updated_at", Formats.time(i.getUpdatedAt()));
  }

  /** md5 / sha512 as shown: still being computed by the gateway, or the value. */
  private static String pending(Image i, String value) {
    return value.isEmpty() && "true".equals(i.getPropertiesMap().get("stratus_checksum_pending"))
        ? "(being computed)" : value;
  }
}
