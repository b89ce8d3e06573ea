package io.stratus.gateway.store.glance;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.store.UploadSink;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upload into Glance: a single chunked {@code PUT /v2/images/ID/file} whose body is
 * fed as extents arrive, through a bounded {@link BodyPipe} — no temporary file. Glance
 * has no sparse upload. With a {@link Qcow2Layout} (the uploader said where its data lies)
 * the body is a compact qcow2: the layout's metadata first, then only the allocated
 * clusters, so the zeros never travel. Without one the body is the raw content and holes
 * (zero extents, gaps between extents and the tail up to the virtual size) go as zeros.
 *
 * <pre>
 *   start ──PUT sent, Glance says saving──► STREAMING ──data/zero──► STREAMING
 *   STREAMING ──commit: tail zeros, last chunk, 204──► DONE (Glance active; its record returned)
 *   STREAMING ──abort: body failed, exchange cancelled──► DONE (Glance queued again, checked)
 * </pre>
 *
 * Glance cannot resume: nothing is ever durable before the commit.
 */
final class GlanceUpload implements UploadSink {
  private static final Logger LOG = LoggerFactory.getLogger(GlanceUpload.class);
  /** Longest a write may wait for Glance to take bytes. */
  static final Duration STALL_TIMEOUT = Duration.ofSeconds(120);
  /** Longest wait for Glance's answer once the whole body is sent. */
  static final Duration COMMIT_TIMEOUT = Duration.ofMinutes(10);
  /** Longest wait for Glance to report saving after the PUT, or queued after an abort. */
  static final Duration STATUS_TIMEOUT = Duration.ofSeconds(30);

  private final GlanceBackend store;
  private final String id;
  private final String uploadId;
  private final BodyPipe body;
  private final CompletableFuture<HttpResponse<String>> response;
  /** The compact layout, or null for a raw body. */
  private final Qcow2Layout layout;
  /** Bytes of the body sent so far (file offset). */
  private long position;
  private boolean ended;

  private GlanceUpload(GlanceBackend store, String id, String uploadId, BodyPipe body,
      CompletableFuture<HttpResponse<String>> response, Qcow2Layout layout) {
    this.store = store;
    this.id = id;
    this.uploadId = uploadId;
    this.body = body;
    this.response = response;
    this.layout = layout;
  }

  /**
   * Starts the PUT and waits until Glance has the image in saving (so a later abort can
   * tell Glance's own restore to queued from "not started yet"); Glance's refusal (409 for
   * an image that is not queued, 404) is thrown here. With a {@code layout} (null for raw)
   * the qcow2 metadata is sent at once.
   */
  static GlanceUpload start(GlanceBackend store, GlanceClient client, Executor executor,
      String id, String uploadId, Qcow2Layout layout) throws IOException {
    BodyPipe body = new BodyPipe(executor, STALL_TIMEOUT);
    // Expect: 100-continue makes Glance's refusal (409, 404 …) arrive before any body is
    // sent; without it the JDK client only reports an answer once the whole body is out.
    HttpRequest put = client.request("/v2/images/" + id + "/file")
        .header("Content-Type", "application/octet-stream")
        .expectContinue(true)
        .PUT(HttpRequest.BodyPublishers.fromPublisher(body))
        .build();
    var response = client.sendAsync(put, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    GlanceUpload upload = new GlanceUpload(store, id, uploadId, body, response, layout);
    try {
      upload.awaitSaving();
      if (layout != null) {
        for (long c = 0; c < layout.metadataBytes() / Qcow2Layout.CLUSTER; c++) {
          upload.body.write(layout.metadataCluster(c));
        }
        upload.position = layout.metadataBytes();
      }
    } catch (IOException | RuntimeException e) {
      upload.cancelExchange(e);
      throw e;
    }
    return upload;
  }

  private void awaitSaving() throws IOException {
    long deadline = System.nanoTime() + STATUS_TIMEOUT.toNanos();
    for (int attempt = 0; ; attempt++) {
      if (response.isDone()) {
        throw failure(answer(Duration.ZERO));
      }
      ImageStatus status = store.statusOf(id);
      if (status == ImageStatus.SAVING) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IOException("Glance did not start saving image " + id + " within "
            + STATUS_TIMEOUT.toSeconds() + " s (it is " + status.glanceName() + ")");
      }
      pause(attempt);
    }
  }

  @Override
  public void data(long offset, ByteBuffer data) throws IOException {
    int length = data.remaining();
    long at = layout == null ? offset : layout.fileOffset(offset);
    fill(at);
    body.write(data);
    position = at + length;
  }

  @Override
  public void zero(long offset, long length) throws IOException {
    if (layout == null) {
      fill(offset + length);
    }  // compact: a hole is simply not stored; zeros inside allocated clusters come with fill
  }

  /** Sends zeros from where the body is up to file offset {@code end}; fails fast when Glance gave up. */
  private void fill(long end) throws IOException {
    if (response.isDone()) {
      throw failure(answer(Duration.ZERO));
    }
    if (end > position) {
      body.writeZeros(end - position);
      position = end;
    }
  }

  @Override
  public long storedBytes(long virtualSize) {
    return layout == null ? virtualSize : layout.fileSize();
  }

  @Override
  public long durableOffset() {
    return 0;
  }

  @Override
  public ImageRecord commit(long virtualSize, String contentDigest, boolean checksumPending)
      throws IOException {
    fill(layout == null ? virtualSize : layout.fileSize());
    body.finish();
    HttpResponse<String> answer = answer(COMMIT_TIMEOUT);
    if (answer.statusCode() != 204 && answer.statusCode() != 200) {
      throw failure(answer);
    }
    ended = true;
    Map<String, String> marks = checksumPending
        ? Map.of(ImageRecord.CONTENT_DIGEST, contentDigest, ImageRecord.DIGEST_PENDING, "true")
        : Map.of(ImageRecord.CONTENT_DIGEST, contentDigest);
    ImageRecord active = store.update(id, null, marks, Set.of());
    LOG.info("glance upload committed; image={} upload={} bytes={} glanceStatus={}", id,
        uploadId, body.written(), active.status().glanceName());
    return active;
  }

  /**
   * Abandons the PUT mid-body (Glance then removes the partial data and puts the image back
   * to queued) and waits until Glance reports that. Nothing is kept: Glance cannot resume.
   */
  @Override
  public void abort(boolean keepForResume) {
    if (ended) {
      return;
    }
    ended = true;
    cancelExchange(new IOException("upload " + uploadId + " of image " + id + " aborted"));
    long deadline = System.nanoTime() + STATUS_TIMEOUT.toNanos();
    try {
      for (int attempt = 0; ; attempt++) {
        ImageStatus status = store.statusOf(id);
        if (status != ImageStatus.SAVING) {
          if (status == ImageStatus.ACTIVE) {
            LOG.warn("glance upload aborted after Glance activated the image; image={} upload={}",
                id, uploadId);
          } else {
            LOG.info("glance upload aborted; image={} upload={} bytesSent={} status={}", id,
                uploadId, body.written(), status.glanceName());
          }
          return;
        }
        if (System.nanoTime() > deadline) {
          LOG.warn("glance upload aborted but Glance still reports saving after {} s; image={}"
              + " upload={}", STATUS_TIMEOUT.toSeconds(), id, uploadId);
          return;
        }
        pause(attempt);
      }
    } catch (ApiException e) {
      if (e.kind() == ApiException.Kind.NOT_FOUND) {
        LOG.info("glance upload aborted; image {} was deleted meanwhile; upload={}", id, uploadId);
      } else {
        LOG.warn("glance upload aborted but its image's status is unknown; image={} upload={}",
            id, uploadId, e);
      }
    } catch (InterruptedIOException e) {
      Thread.currentThread().interrupt();
      LOG.warn("interrupted while checking an aborted upload; image={} upload={}", id, uploadId);
    }
  }

  /** Breaks the exchange off: the body fails, the request is cancelled, the connection closed. */
  private void cancelExchange(Throwable why) {
    body.fail(why);
    response.cancel(true);
  }

  private HttpResponse<String> answer(Duration wait) throws IOException {
    try {
      return wait.isZero() ? response.getNow(null) : response.get(wait.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for Glance to store image " + id);
    } catch (TimeoutException e) {
      throw new IOException("Glance did not confirm image " + id + " within "
          + wait.toMinutes() + " min", e);
    } catch (CancellationException e) {
      throw new IOException("the upload of image " + id + " was cancelled", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io ? new IOException("sending image " + id
          + " to Glance failed: " + io.getMessage(), io)
          : new IOException("sending image " + id + " to Glance failed", cause);
    } catch (java.util.concurrent.CompletionException e) {
      throw new IOException("sending image " + id + " to Glance failed", e.getCause());
    }
  }

  /** The exception for an answer that came before or instead of success. */
  private ApiException failure(HttpResponse<String> answer) {
    return GlanceErrors.of(GlanceErrors.Call.UPLOAD, id, answer.statusCode(), answer.body());
  }

  private static void pause(int attempt) throws InterruptedIOException {
    try {
      Thread.sleep(Math.min(100, 5L << Math.min(attempt, 5)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for Glance");
    }
  }
}
