package io.stratus.agent.disk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * qemu-img for metadata only: creating overlays, the extent map and the backing chain.
 * Bytes are never copied by qemu-img here. Read-only queries use {@code -U} so they work
 * while a guest holds the image open.
 */
public final class QemuImg {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long TIMEOUT_SECONDS = 120;

  /** One image of a backing chain, top (depth 0) first. */
  public record ChainLink(int depth, Path file, String format, long virtualSize) {}

  /** One run of qemu-img map: guest range, which depth holds it, and where in that file. */
  public record MapEntry(long start, long length, int depth, boolean data, long hostOffset,
      boolean hasHostOffset) {}

  private QemuImg() {}

  /** Creates a qcow2 overlay on {@code backing} (format {@code backingFormat}). */
  public static void createOverlay(Path overlay, Path backing, String backingFormat, long size)
      throws IOException {
    List<String> cmd = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b",
        backing.toString(), "-F", backingFormat, overlay.toString()));
    if (size > 0) {
      cmd.add(Long.toString(size));
    }
    run(cmd);
  }

  /** Commits an overlay into its backing file offline (the image must not be in use). */
  public static void commit(Path overlay) throws IOException {
    run(List.of("qemu-img", "commit", "-q", "-d", overlay.toString()));
  }

  /** The backing chain of {@code top}, top first. */
  public static List<ChainLink> chain(Path top) throws IOException {
    JsonNode root = JSON.readTree(run(List.of("qemu-img", "info", "-U", "--backing-chain",
        "--output=json", top.toString())));
    List<ChainLink> links = new ArrayList<>();
    int depth = 0;
    for (JsonNode n : root) {
      links.add(new ChainLink(depth++, Path.of(n.get("filename").asText()),
          n.get("format").asText(), n.get("virtual-size").asLong()));
    }
    return links;
  }

  /** The extent map of {@code top} (whole chain). */
  public static List<MapEntry> map(Path top) throws IOException {
    JsonNode root = JSON.readTree(run(List.of("qemu-img", "map", "-U", "--output=json",
        top.toString())));
    List<MapEntry> entries = new ArrayList<>();
    for (JsonNode n : root) {
      boolean hasOffset = n.has("offset");
      entries.add(new MapEntry(n.get("start").asLong(), n.get("length").asLong(),
          n.path("depth").asInt(0), n.get("data").asBoolean(),
          hasOffset ? n.get("offset").asLong() : -1, hasOffset));
    }
    return entries;
  }

  static String run(List<String> cmd) throws IOException {
    Path out = Files.createTempFile("stratus-qemu-img-", ".out");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + " did not finish in " + TIMEOUT_SECONDS + " s");
      }
      String text = Files.readString(out);
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", cmd) + " failed: " + text.strip());
      }
      return text;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + cmd.get(0), e);
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
