package io.stratus.support.imageio;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An upload that survives an image-gateway restart: when the call breaks (UNAVAILABLE:
 * the gateway died or the link dropped), it waits with backoff, asks the gateway how far
 * the same upload id got ({@code GetUploadStatus}: the durable, acknowledged offset) and
 * sends again from there — the content is replayed from its start so digests computed
 * while reading still cover all of it, but nothing before the offset travels twice. A
 * store that cannot resume (Glance) or a gateway that lost the upload starts again at 0.
 * Attempts are bounded; any other error (the image deleted, bad content, a cancel) ends
 * the upload at once.
 */
public final class ResumableUpload {
  private static final Logger LOG = LoggerFactory.getLogger(ResumableUpload.class);

  /** The content, replayable from its start. */
  public interface Content {
    /**
     * Sends every extent at or after {@code from} (in offset order) through {@code up};
     * returns the content digest for the trailer, or "" when not known.
     */
    String send(ImageUploader up, long from) throws IOException, InterruptedException;
  }

  /**
   * How often and how patiently to try again.
   *
   * @param attempts calls in all (1 = never resume)
   * @param firstBackoff the wait before the first retry, doubled each time
   * @param maxBackoff the longest wait between attempts
   */
  public record Retry(int attempts, Duration firstBackoff, Duration maxBackoff) {
    /**
     * Eight attempts over about 70 s: enough for a gateway to restart, or for a replica to
     * take over the RBD upload of one that died (its writer lease, 15 s, and the dead
     * gateway's RBD watch, Ceph's 30 s {@code osd_client_watch_timeout}).
     */
    public static final Retry DEFAULT = new Retry(8, Duration.ofSeconds(1), Duration.ofSeconds(20));
  }

  /** What an upload did: the gateway's answer, the data bytes sent in all, the resumes. */
  public record Result(UploadImageResponse response, long dataBytesSent, int resumes) {}

  private ResumableUpload() {}

  /**
   * Uploads {@code content} into queued image {@code imageId} as upload {@code uploadId}.
   *
   * @param digestInTrailer the content returns the content digest (see {@link
   *     ImageUploader#start(Channel, String, String, long, long, boolean, Allocation)})
   * @param allocation where the data lies, or null
   */
  public static Result run(Channel gateway, String imageId, String uploadId, long virtualSize,
      boolean digestInTrailer, Allocation allocation, Content content, Retry retry,
      Duration finishTimeout) throws IOException, InterruptedException {
    long from = 0;
    long sent = 0;
    int resumes = 0;
    for (int attempt = 1; ; attempt++) {
      ImageUploader up = null;
      try {
        up = ImageUploader.start(gateway, imageId, uploadId, virtualSize, from, digestInTrailer,
            allocation);
        String digest = content.send(up, from);
        UploadImageResponse r = up.finish(finishTimeout, digest);
        return new Result(r, sent + up.dataBytes(), resumes);
      } catch (StatusRuntimeException e) {
        if (up != null) {
          sent += up.dataBytes();
          up.close();
        }
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || attempt >= retry.attempts()) {
          throw e;
        }
        Duration wait = backoff(retry, attempt);
        LOG.warn("upload broke, resuming; image={} upload={} attempt={} of {} in={} status={}",
            imageId, uploadId, attempt, retry.attempts(), wait, e.getStatus());
        Thread.sleep(wait.toMillis());
        from = committed(gateway, imageId, uploadId, retry, attempt);
        resumes++;
        LOG.info("upload resuming; image={} upload={} from={}", imageId, uploadId, from);
      } catch (IOException | InterruptedException | RuntimeException e) {
        if (up != null) {
          up.close();  // cancels the call: the gateway re-queues the image
        }
        throw e;
      }
    }
  }

  private static Duration backoff(Retry retry, int attempt) {
    Duration d = retry.firstBackoff().multipliedBy(1L << Math.min(attempt - 1, 20));
    return d.compareTo(retry.maxBackoff()) > 0 ? retry.maxBackoff() : d;
  }

  /**
   * The gateway's committed offset of the upload, asked until the gateway answers (within
   * the remaining attempts' backoff); 0 when it no longer knows the upload or its store
   * cannot resume.
   */
  private static long committed(Channel gateway, String imageId, String uploadId, Retry retry,
      int attempt) throws InterruptedException {
    for (int tries = attempt; ; tries++) {
      try {
        return ImagesGrpc.newBlockingStub(gateway).withDeadlineAfter(30, TimeUnit.SECONDS)
            .withWaitForReady()
            .getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(imageId)
                .setUploadId(uploadId).build())
            .getCommittedOffset();
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.NOT_FOUND || code == Status.Code.FAILED_PRECONDITION
            || code == Status.Code.UNIMPLEMENTED) {
          return 0;
        }
        if ((code != Status.Code.UNAVAILABLE && code != Status.Code.DEADLINE_EXCEEDED)
            || tries >= retry.attempts()) {
          throw e;
        }
        Thread.sleep(backoff(retry, tries).toMillis());
      }
    }
  }
}
