package io.stratus.cli.image;

import com.google.protobuf.ByteString;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.cli.output.ProgressBar;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import io.stratus.support.digest.ContentDigests;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Uploads a raw file as extents: 1 MiB blocks that read as all zeros travel as zero
 * extents (so a sparse file's holes are never sent), the rest as data; md5 + sha512 in
 * the trailer; sent only while the stream is ready (flow control).
 */
final class SparseUpload {
  private static final int BLOCK = 1 << 20;

  private SparseUpload() {}

  static UploadImageResponse send(ImagesGrpc.ImagesStub images, String imageId, Path file,
      ProgressBar progress) throws IOException, InterruptedException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        ContentDigests digests = new ContentDigests()) {
      long size = ch.size();
      CompletableFuture<UploadImageResponse> done = new CompletableFuture<>();
      Object ready = new Object();
      ClientCallStreamObserver<UploadImageRequest>[] call = new ClientCallStreamObserver[1];
      images.uploadImage(new ClientResponseObserver<UploadImageRequest, UploadImageResponse>() {
        @Override
        public void beforeStart(ClientCallStreamObserver<UploadImageRequest> out) {
          call[0] = out;
          out.setOnReadyHandler(() -> {
            synchronized (ready) {
              ready.notifyAll();
            }
          });
        }

        @Override
        public void onNext(UploadImageResponse value) {
          done.complete(value);
        }

        @Override
        public void onError(Throwable t) {
          done.completeExceptionally(t);
          synchronized (ready) {
            ready.notifyAll();
          }
        }

        @Override
        public void onCompleted() {}
      });
      send(call[0], ready, done, UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
          .setImageId(imageId).setUploadId("cli-" + System.nanoTime()).setVirtualSize(size)
          .setDiskFormat("raw")).build());

      for (long off = 0; off < size; off += BLOCK) {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(BLOCK, size - off));
        while (buf.hasRemaining() && ch.read(buf, off + buf.position()) >= 0) {
          // fill the block
        }
        buf.flip();
        if (allZero(buf)) {
          digests.zeros(buf.remaining());
          send(call[0], ready, done, UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder()
              .setOffset(off).setLength(buf.remaining())).build());
        } else {
          digests.data(buf);
          send(call[0], ready, done, UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
              .setOffset(off).setData(ByteString.copyFrom(buf.duplicate()))).build());

        }
        progress.update("uploading", off + buf.limit(), size);
      }
      send(call[0], ready, done, UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
          .setMd5(digests.md5Hex()).setSha512(digests.sha512Hex())).build());
      call[0].onCompleted();
      try {
        return done.get();
      } catch (ExecutionException e) {
        throw e.getCause() instanceof RuntimeException re ? re : new UncheckedIOException(
            new IOException(e.getCause()));
      }
    }
  }

  private static void send(ClientCallStreamObserver<UploadImageRequest> call, Object ready,
      CompletableFuture<UploadImageResponse> done, UploadImageRequest m) throws InterruptedException {
    synchronized (ready) {
      while (!call.isReady() && !done.isDone()) {
        ready.wait(100);
      }
    }
    if (done.isCompletedExceptionally()) {
      done.join();  // rethrows the gateway's error
    }
    call.onNext(m);
  }

  private static boolean allZero(ByteBuffer b) {
    for (int i = b.position(); i < b.limit(); i++) {
      if (b.get(i) != 0) {
        return false;
      }
    }
    return true;
  }
}
