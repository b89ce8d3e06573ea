package io.stratus.agent.disk;

import io.grpc.Channel;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.digest.ChunkDigest;
import io.stratus.support.imageio.Allocation;
import io.stratus.support.imageio.ImageUploader;
import io.stratus.support.imageio.ResumableUpload;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;

/**
 * Streams a point-in-time disk to the image-gateway: reads the plan's data extents in
 * parallel, sends them in order as data extents and the gaps as zero extents (holes are
 * never sent), each with its CRC32C, through the shared {@link ImageUploader}. When the
 * reader hashed its chunks (in parallel, as it read them) the content digest goes in the
 * trailer and the gateway need not hash again; otherwise the gateway computes it. The
 * gateway verifies every extent. Nothing here costs more than the data read. No temp file;
 * memory bounded by the reader's window. An upload cut by a gateway restart resumes from
 * the gateway's committed offset ({@link ResumableUpload}).
 */
public final class SnapshotStreamer {
  /** What was sent. */
  public record Sent(UploadImageResponse response, long bytesSent) {}

  /** How long the gateway may take to confirm an upload once every byte was sent. */
  private static final Duration FINISH_TIMEOUT = Duration.ofMinutes(10);

  private final Channel gateway;
  private final int threads;
  private final ResumableUpload.Retry retry;

  public SnapshotStreamer(Channel gateway, int threads) {
    this(gateway, threads, ResumableUpload.Retry.DEFAULT);
  }

  /** A streamer whose uploads survive gateway restarts as {@code retry} allows. */
  public SnapshotStreamer(Channel gateway, int threads, ResumableUpload.Retry retry) {
    this.gateway = gateway;
    this.threads = threads;
    this.retry = retry;
  }

  /** Opens a reader of the snapshot from its start; called again for each resume. */
  public interface ReaderFactory {
    DiskReader open() throws IOException;
  }

  /** Streams a plan read straight from the chain's files. */
  public Sent upload(String imageId, String uploadId, ExtentPlan plan, TaskContext ctx)
      throws IOException, InterruptedException {
    Allocation.Builder allocation = Allocation.builder();
    for (DiskExtent e : plan.extents()) {
      if (e.isData()) {
        allocation.add(e.offset(), e.length());
      }
    }
    return upload(imageId, uploadId, () -> new ParallelReader(plan, threads, threads * 2),
        plan.virtualSize(), plan.dataBytes(), allocation.build(), ctx);
  }

  /**
   * Streams whatever the readers {@code readers} opens yield; {@code expectedData} is the
   * progress total (the virtual size when the data amount is not known in advance).
   */
  public Sent upload(String imageId, String uploadId, ReaderFactory readers, long virtualSize,
      long expectedData, TaskContext ctx) throws IOException, InterruptedException {
    return upload(imageId, uploadId, readers, virtualSize, expectedData, null, ctx);
  }

  /**
   * The upload, resumed after a gateway restart ({@link ResumableUpload}): each attempt
   * reads the snapshot from its start (so the content digest covers all of it) and sends
   * what lies at or after the gateway's committed offset.
   */
  private Sent upload(String imageId, String uploadId, ReaderFactory readers, long virtualSize,
      long expectedData, Allocation allocation, TaskContext ctx)
      throws IOException, InterruptedException {
    DiskReader[] open = {readers.open()};
    boolean digests = open[0].suppliesChunkDigests();
    try {
      ResumableUpload.Result r = ResumableUpload.run(gateway, imageId, uploadId, virtualSize,
          digests, allocation, (up, from) -> {
            if (open[0] == null) {
              open[0] = readers.open();
            }
            try {
              return sendFrom(open[0], up, from, virtualSize, expectedData, digests, ctx);
            } finally {
              open[0].close();
              open[0] = null;
            }
          }, retry, FINISH_TIMEOUT);
      ctx.progress(expectedData, expectedData);
      return new Sent(r.response(), r.dataBytesSent());
    } finally {
      if (open[0] != null) {
        open[0].close();
      }
    }
  }

  /** Sends the extents of one read of the snapshot from {@code from} on; returns its digest. */
  private static String sendFrom(DiskReader reader, ImageUploader up, long from, long virtualSize,
      long expectedData, boolean digests, TaskContext ctx) throws IOException, InterruptedException {
    ChunkDigest content = new ChunkDigest();
    long read = 0;
    DiskReader.Piece p;
    while ((p = reader.next()) != null) {
      DiskExtent e = p.extent();
      try {
        ctx.checkCancelled();
        long skip = Math.max(0, from - e.offset());
        if (skip < e.length()) {
          if (p.data() == null) {
            up.zero(e.offset() + skip, e.length() - skip);
          } else {
            ByteBuffer d = p.data();
            up.data(e.offset() + skip,
                skip == 0 ? d : d.duplicate().position(d.position() + (int) skip));
          }
        }
      } finally {
        if (p.release() != null) {
          p.release().run();  // sent (the bytes were copied into the stream) or failed
        }
      }
      if (p.data() != null) {
        read += e.length();
        ctx.progress(read, expectedData);
      }
      if (p.chunkDigest() != null) {
        long start = e.offset() - e.offset() % ChunkDigest.CHUNK;
        content.chunk(start, (int) Math.min(ChunkDigest.CHUNK, virtualSize - start), p.chunkDigest());
      }
    }
    return digests ? content.finish(virtualSize) : "";
  }
}
