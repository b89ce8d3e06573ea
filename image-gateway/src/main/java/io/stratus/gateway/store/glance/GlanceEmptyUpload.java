package io.stratus.gateway.store.glance;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.store.UploadSink;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upload of an image with no content (virtual size 0, e.g. a volume-backed snapshot):
 * one PUT with an empty body at commit. Not a {@link GlanceUpload}: the JDK HTTP client's
 * "Expect: 100-continue" exchange fails (NullPointerException in Http1Exchange) when the
 * streamed body ends before the server's 100 arrives, which an empty body always does.
 */
final class GlanceEmptyUpload implements UploadSink {
  private static final Logger LOG = LoggerFactory.getLogger(GlanceEmptyUpload.class);

  private final GlanceBackend store;
  private final GlanceClient client;
  private final String id;

  GlanceEmptyUpload(GlanceBackend store, GlanceClient client, String id) {
    this.store = store;
    this.client = client;
    this.id = id;
  }

  @Override
  public void data(long offset, ByteBuffer data) throws IOException {
    throw new IOException("image " + id + " has virtual size 0: it takes no data");
  }

  @Override
  public void zero(long offset, long length) throws IOException {
    throw new IOException("image " + id + " has virtual size 0: it takes no data");
  }

  @Override
  public long durableOffset() {
    return 0;
  }

  @Override
  public ImageRecord commit(long virtualSize, String contentDigest, boolean checksumPending)
      throws IOException {
    var answer = client.exchange(client.request("/v2/images/" + id + "/file")
        .header("Content-Type", "application/octet-stream")
        .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[0])));
    if (!answer.ok()) {
      throw GlanceErrors.of(GlanceErrors.Call.UPLOAD, id, answer.status(), answer.body());
    }
    LOG.info("glance empty upload committed; image={}", id);
    return store.update(id, null, java.util.Map.of(ImageRecord.CONTENT_DIGEST, contentDigest),
        java.util.Set.of());
  }

  @Override
  public void abort(boolean keepForResume) {
    // Nothing was sent before commit.
  }
}
