package io.stratus.agent.images;

import io.grpc.Channel;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.support.errors.Ids;
import io.stratus.support.imageio.DownloadVerifier;
import io.stratus.support.imageio.ImageDownloads;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base images on this host, downloaded once from the gateway and shared by instances:
 * written sparse under a temp name, each extent checked against its CRC32C and the whole
 * against the image's content digest (a cost that follows the data, not the virtual size),
 * then renamed into place as DIR/IMAGE_ID.raw.
 */
public final class ImageCache {
  private static final Logger LOG = LoggerFactory.getLogger(ImageCache.class);

  private final Path dir;
  private final Channel gateway;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();

  public ImageCache(Path dir, Channel gateway) throws IOException {
    this.dir = Files.createDirectories(dir);
    this.gateway = gateway;
  }

  /** The cache file of an image; {@code imageId} must be a UUID (INVALID_ARGUMENT otherwise). */
  public Path path(String imageId) {
    return dir.resolve(Ids.uuid("image_ref", imageId) + ".raw");
  }

  /** The cached image file, downloading it first if needed. */
  public Path fetch(String imageId) throws IOException {
    Path target = path(imageId);
    imageId = Ids.uuid("image_ref", imageId);
    synchronized (locks.computeIfAbsent(imageId, k -> new Object())) {
      if (Files.exists(target)) {
        return target;
      }
      Path tmp = dir.resolve("." + imageId + ".part");
      try {
        download(imageId, tmp);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        LOG.info("base image cached; image={} file={}", imageId, target);
        return target;
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
  }

  private void download(String imageId, Path tmp) throws IOException {
    Iterator<DownloadImageResponse> it = ImageDownloads.open(gateway, imageId);
    var image = it.next().getImage();
    try (RandomAccessFile raf = new RandomAccessFile(tmp.toFile(), "rw");
        FileChannel ch = raf.getChannel();
        DownloadVerifier verifier = new DownloadVerifier(image)) {
      while (it.hasNext()) {
        var m = it.next();
        if (m.hasData()) {
          var buf = verifier.data(m.getData());
          long at = m.getData().getOffset();
          while (buf.hasRemaining()) {
            at += ch.write(buf, at);
          }
        } else {
          verifier.zero(m.getZero().getOffset(), m.getZero().getLength());
        }
      }
      raf.setLength(image.getVirtualSize());
      ch.force(true);
      if (!verifier.finish()) {
        LOG.warn("image has no content digest to check (an RBD clone import?); image={}", imageId);
      }
    }
  }
}
