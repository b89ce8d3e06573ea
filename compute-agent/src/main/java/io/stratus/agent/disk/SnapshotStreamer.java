package io.stratus.agent.disk;

import io.stratus.support.digest.ContentDigests;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Channel;
import io.stratus.agent.images.GatewayUpload;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import java.io.IOException;

/**
 * Streams a point-in-time disk to the image-gateway: reads the plan's data extents in
 * parallel, sends them in order as data extents and the gaps as zero extents (holes are
 * never sent), computes md5 + sha512 of the guest-visible content on the way and sends
 * them in the trailer. No temp file; memory bounded by the reader's window.
 */
public final class SnapshotStreamer {
  /** What was sent. */
  public record Sent(UploadImageResponse response, long bytesSent, String md5, String sha512) {}

  private final Channel gateway;
  private final int threads;

  public SnapshotStreamer(Channel gateway, int threads) {
    this.gateway = gateway;
    this.threads = threads;
  }

  /** Streams a plan read straight from the chain's files. */
  public Sent upload(String imageId, String uploadId, ExtentPlan plan, TaskContext ctx)
      throws IOException, InterruptedException {
    try (ParallelReader reader = new ParallelReader(plan, threads, threads * 2)) {
      return upload(imageId, uploadId, reader, plan.virtualSize(), plan.dataBytes(), ctx);
    }
  }

  /**
   * Streams whatever {@code reader} yields; {@code expectedData} is the progress total
   * (the virtual size when the data amount is not known in advance).
   */
  public Sent upload(String imageId, String uploadId, DiskReader reader, long virtualSize,
      long expectedData, TaskContext ctx) throws IOException, InterruptedException {
    GatewayUpload upload = new GatewayUpload(gateway);
    long sent = 0;
    long total = expectedData;
    boolean finished = false;
    try (ContentDigests digest = new ContentDigests()) {
      upload.send(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
          .setImageId(imageId).setUploadId(uploadId).setVirtualSize(virtualSize)
          .setDiskFormat("raw")).build());
      DiskReader.Piece p;
      while ((p = reader.next()) != null) {
        ctx.checkCancelled();
        DiskExtent e = p.extent();
        if (p.data() == null) {
          digest.zeros(e.length());
          upload.send(UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder()
              .setOffset(e.offset()).setLength(e.length())).build());
        } else {
          digest.data(p.data());
          upload.send(UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
              .setOffset(e.offset()).setData(UnsafeByteOperations.unsafeWrap(p.data()))).build());
          sent += e.length();
          ctx.progress(sent, total);
        }
      }
      String md5 = digest.md5Hex();
      String sha512 = digest.sha512Hex();
      upload.send(UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
          .setMd5(md5).setSha512(sha512)).build());
      UploadImageResponse r = upload.finish(600);
      finished = true;
      ctx.progress(total, total);
      return new Sent(r, sent, md5, sha512);
    } finally {
      if (!finished) {
        upload.cancel("snapshot upload stopped");
      }
    }
  }
}
