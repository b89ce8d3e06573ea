package io.stratus.agent.disk;

import io.grpc.Channel;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.digest.ChunkDigest;
import io.stratus.support.imageio.Allocation;
import io.stratus.support.imageio.ImageUploader;
import java.io.IOException;
import java.time.Duration;

/**
 * Streams a point-in-time disk to the image-gateway: reads the plan's data extents in
 * parallel, sends them in order as data extents and the gaps as zero extents (holes are
 * never sent), each with its CRC32C, through the shared {@link ImageUploader}. When the
 * reader hashed its chunks (in parallel, as it read them) the content digest goes in the
 * trailer and the gateway need not hash again; otherwise the gateway computes it. The
 * gateway verifies every extent. Nothing here costs more than the data read. No temp file;
 * memory bounded by the reader's window.
 */
public final class SnapshotStreamer {
  /** What was sent. */
  public record Sent(UploadImageResponse response, long bytesSent) {}

  /** How long the gateway may take to confirm an upload once every byte was sent. */
  private static final Duration FINISH_TIMEOUT = Duration.ofMinutes(10);

  private final Channel gateway;
  private final int threads;

  public SnapshotStreamer(Channel gateway, int threads) {
    this.gateway = gateway;
    this.threads = threads;
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
    try (ParallelReader reader = new ParallelReader(plan, threads, threads * 2)) {
      return upload(imageId, uploadId, reader, plan.virtualSize(), plan.dataBytes(),
          allocation.build(), ctx);
    }
  }

  /**
   * Streams whatever {@code reader} yields; {@code expectedData} is the progress total
   * (the virtual size when the data amount is not known in advance).
   */
  public Sent upload(String imageId, String uploadId, DiskReader reader, long virtualSize,
      long expectedData, TaskContext ctx) throws IOException, InterruptedException {
    return upload(imageId, uploadId, reader, virtualSize, expectedData, null, ctx);
  }

  private Sent upload(String imageId, String uploadId, DiskReader reader, long virtualSize,
      long expectedData, Allocation allocation, TaskContext ctx)
      throws IOException, InterruptedException {
    boolean digests = reader.suppliesChunkDigests();
    ChunkDigest content = new ChunkDigest();
    try (ImageUploader upload = ImageUploader.start(gateway, imageId, uploadId, virtualSize, 0,
        digests, allocation)) {
      DiskReader.Piece p;
      while ((p = reader.next()) != null) {
        ctx.checkCancelled();
        DiskExtent e = p.extent();
        if (p.data() == null) {
          upload.zero(e.offset(), e.length());
        } else {
          upload.data(e.offset(), p.data());
          ctx.progress(upload.dataBytes(), expectedData);
        }
        if (p.chunkDigest() != null) {
          long start = e.offset() - e.offset() % ChunkDigest.CHUNK;
          content.chunk(start, (int) Math.min(ChunkDigest.CHUNK, virtualSize - start), p.chunkDigest());
        }
        if (p.release() != null) {
          p.release().run();  // the bytes were copied into the stream
        }
      }
      UploadImageResponse r = upload.finish(FINISH_TIMEOUT,
          digests ? content.finish(virtualSize) : "");
      ctx.progress(expectedData, expectedData);
      return new Sent(r, upload.dataBytes());
    }
  }
}
