package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 4 GiB sparse image (256 MiB of data spread over it) round-trips through a gateway
 * running in its own JVM with a 256 MiB heap, over TCP: upload with client flow control,
 * download, identical sha512. A gateway that buffered the image would die of
 * OutOfMemoryError ({@code -XX:+ExitOnOutOfMemoryError}).
 */
class BoundedHeapRoundTripTest {
  private static final long SIZE = 4L << 30;
  private static final int CHUNK = 4 << 20;
  /** One 4 MiB data extent every 64 MiB: 64 extents, 256 MiB of data. */
  private static final long STRIDE = 64L << 20;

  @TempDir Path dir;

  private static byte[] chunk(long offset) {
    byte[] b = new byte[CHUNK];
    new Random(offset).nextBytes(b);
    return b;
  }

  /** The messages of the whole upload, made lazily so the test itself stays small. */
  private static Iterator<UploadImageRequest> upload(String imageId, MessageDigest md5,
      MessageDigest sha512) {
    List<Long> offsets = new ArrayList<>();
    for (long off = 0; off < SIZE; off += STRIDE) {
      offsets.add(off);
    }
    byte[] zeros = new byte[1 << 20];
    return new Iterator<>() {
      int state = -1;  // -1 header, then 2 per extent (data, hole), then trailer
      boolean done;
      final java.util.zip.CRC32C chain = new java.util.zip.CRC32C();
      long dataBytes;

      @Override
      public boolean hasNext() {
        return !done;
      }

      @Override
      public UploadImageRequest next() {
        state++;
        if (state == 0) {
          return UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
              .setImageId(imageId).setUploadId("big").setVirtualSize(SIZE).setDiskFormat("raw")).build();
        }
        int i = (state - 1) / 2;
        if (i < offsets.size()) {
          long off = offsets.get(i);
          if ((state - 1) % 2 == 0) {
            byte[] b = chunk(off);
            md5.update(b);
            sha512.update(b);
            UploadImageRequest data = TestImage.data(off, ByteString.copyFrom(b));
            chain.update(java.nio.ByteBuffer.allocate(20).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putLong(off).putLong(b.length).putInt(data.getData().getCrc32C()).flip());
            dataBytes += b.length;
            return data;
          }
          long hole = Math.min(STRIDE, SIZE - off) - CHUNK;
          for (long left = hole; left > 0; left -= zeros.length) {
            md5.update(zeros, 0, (int) Math.min(left, zeros.length));
            sha512.update(zeros, 0, (int) Math.min(left, zeros.length));
          }
          return UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder()
              .setOffset(off + CHUNK).setLength(hole)).build();
        }
        done = true;
        return UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
            .setExtentsCrc32C((int) chain.getValue()).setDataBytes(dataBytes)).build();
      }
    };
  }

  @Test
  void fourGibSparseImageRoundTripsThroughA256MibHeap() throws Exception {
    Path log = dir.resolve("gateway.log");
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:+ExitOnOutOfMemoryError",
        "-cp", System.getProperty("java.class.path"), "io.stratus.gateway.GatewayMain")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("STRATUS_GATEWAY_FS_DIR", dir.resolve("store").toString());
    pb.environment().put("STRATUS_GATEWAY_PORT", "0");
    // this test is about the gateway's memory and restarts, not TLS (TransportSecurityTest)
    pb.environment().put("STRATUS_GATEWAY_TLS_INSECURE", "true");
    Process gateway = pb.start();
    ManagedChannel channel = null;
    try {
      int port = awaitPort(log, gateway);
      channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
          .maxInboundMessageSize(8 << 20).build();
      var images = ImagesGrpc.newBlockingStub(channel);
      String id = images.createImage(CreateImageRequest.newBuilder().setName("big")
          .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();

      MessageDigest md5 = MessageDigest.getInstance("MD5");
      MessageDigest sha512 = MessageDigest.getInstance("SHA-512");
      Iterator<UploadImageRequest> messages = upload(id, md5, sha512);
      CompletableFuture<UploadImageResponse> done = new CompletableFuture<>();
      ImagesGrpc.newStub(channel).uploadImage(
          new ClientResponseObserver<UploadImageRequest, UploadImageResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<UploadImageRequest> out) {
              // Send only while the transport is ready: the gateway paces us.
              out.setOnReadyHandler(() -> {
                while (out.isReady() && messages.hasNext()) {
                  out.onNext(messages.next());
                }
                if (!messages.hasNext() && !done.isDone()) {
                  out.onCompleted();
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
            }

            @Override
            public void onCompleted() {}
          });
      UploadImageResponse r = done.get(600, TimeUnit.SECONDS);
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
      String expected = HexFormat.of().formatHex(sha512.digest());

      MessageDigest back = MessageDigest.getInstance("SHA-512");
      byte[] zeros = new byte[1 << 20];
      Iterator<DownloadImageResponse> it = images.withDeadlineAfter(600, TimeUnit.SECONDS)
          .downloadImage(DownloadImageRequest.newBuilder().setImageId(id).build());
      it.next();
      long pos = 0;
      while (it.hasNext()) {
        var m = it.next();
        if (m.hasData()) {
          back.update(m.getData().getData().asReadOnlyByteBuffer());
          pos += m.getData().getData().size();
        } else {
          for (long left = m.getZero().getLength(); left > 0; left -= zeros.length) {
            back.update(zeros, 0, (int) Math.min(left, zeros.length));
          }
          pos += m.getZero().getLength();
        }
      }
      assertEquals(SIZE, pos);
      assertEquals(expected, HexFormat.of().formatHex(back.digest()));
      assertTrue(gateway.isAlive(), "the gateway survived with a 256 MiB heap:\n" + Files.readString(log));
    } finally {
      if (channel != null) {
        channel.shutdownNow();
      }
      gateway.destroy();
      gateway.waitFor(20, TimeUnit.SECONDS);
      gateway.destroyForcibly();
    }
  }

  private static int awaitPort(Path log, Process gateway) throws Exception {
    Pattern p = Pattern.compile("image-gateway listening on [^:]+:(\\d+)");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log)) {
        Matcher m = p.matcher(Files.readString(log));
        if (m.find()) {
          return Integer.parseInt(m.group(1));
        }
      }
      assertTrue(gateway.isAlive(), "gateway exited:\n" + (Files.exists(log) ? Files.readString(log) : ""));
      Thread.sleep(50);
    }
    throw new AssertionError("gateway did not start:\n" + Files.readString(log));
  }
}
