package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.fs.FilesystemBackend;
import io.stratus.gateway.store.glance.GlanceBackend;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.testkit.GlanceServer;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 4's upload figures, run by {@code deploy/bench.sh}: a 1 GiB random image through
 * the gateway into the filesystem store vs {@code dd conv=fsync} of the same file, and
 * into Glance vs {@code curl -T} to the same Glance; medians of 3. The RBD figure is
 * RbdStoreTest's benchmark.
 */
@Tag("benchmark")
class StoreThroughputBenchmark {
  private static final long SIZE = 1L << 30;
  private static final int CHUNK = 4 << 20;

  private static void report(String line) {
    System.out.println("[bench] " + line);
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  private static Path randomFile(Path dir) throws Exception {
    Path f = dir.resolve("random-1g.raw");
    SplittableRandom r = new SplittableRandom(1);
    ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      for (long off = 0; off < SIZE; off += CHUNK) {
        b.clear();
        while (b.hasRemaining()) {
          b.putLong(r.nextLong());
        }
        b.flip();
        while (b.hasRemaining()) {
          ch.write(b);
        }
      }
    }
    return f;
  }

  /** Uploads the file through the gateway with client flow control; returns seconds. */
  private static double upload(ManagedChannel channel, Path file) throws Exception {
    var images = ImagesGrpc.newBlockingStub(channel);
    String id = images.createImage(CreateImageRequest.newBuilder().setName("bench")
        .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
    long start = System.nanoTime();
    CompletableFuture<UploadImageResponse> done = new CompletableFuture<>();
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      long[] next = {-1};
      ImagesGrpc.newStub(channel).uploadImage(
          new ClientResponseObserver<UploadImageRequest, UploadImageResponse>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<UploadImageRequest> out) {
              out.setOnReadyHandler(() -> {
                try {
                  while (out.isReady() && next[0] < SIZE) {
                    if (next[0] < 0) {
                      out.onNext(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
                          .setImageId(id).setUploadId("bench").setVirtualSize(SIZE)).build());
                      next[0] = 0;
                      continue;
                    }
                    byte[] b = new byte[CHUNK];
                    raf.seek(next[0]);
                    raf.readFully(b);
                    out.onNext(UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
                        .setOffset(next[0]).setData(ByteString.copyFrom(b))).build());
                    next[0] += CHUNK;
                    if (next[0] >= SIZE) {
                      out.onCompleted();
                    }
                  }
                } catch (Exception e) {
                  out.onError(e);
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
      assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, done.get(600, TimeUnit.SECONDS).getImage().getStatus());
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    images.deleteImage(io.stratus.proto.image.v1.DeleteImageRequest.newBuilder().setImageId(id).build());
    return seconds;
  }

  private static double timedCommand(String... cmd) throws Exception {
    long start = System.nanoTime();
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(600, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + ": " + out);
    return (System.nanoTime() - start) / 1e9;
  }

  private static ManagedChannel serve(ImageBackend backend, List<AutoCloseable> closers) throws Exception {
    String name = InProcessServerBuilder.generateName();
    ImageGateway gw = ImageGateway.start(GatewayConfig.fromMap(Map.of("fs.dir", "/unused",
            "tls.insecure", "true")),
        InProcessServerBuilder.forName(name), TransportSecurity.plaintext("test gateway"), backend);
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    closers.add(gw::close);
    closers.add(ch::shutdownNow);
    return ch;
  }

  @Test
  void uploadsVersusTheStoresOwnTools() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "stratus-bench-");
    List<AutoCloseable> closers = new ArrayList<>();
    try {
      Path file = randomFile(dir);
      ManagedChannel fs = serve(new FilesystemBackend(dir.resolve("store"), Clock.systemUTC()), closers);
      List<Double> ours = new ArrayList<>();
      List<Double> dd = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ours.add(upload(fs, file));
        dd.add(timedCommand("dd", "if=" + file, "of=" + dir.resolve("dd-copy"), "bs=4M", "conv=fsync",
            "status=none"));
        Files.deleteIfExists(dir.resolve("dd-copy"));
      }
      report(String.format("filesystem store, 1 GiB random, medians of 3: gateway %.2f s (%.0f MB/s),"
          + " dd conv=fsync %.2f s (%.0f MB/s), ratio %.2f of the native tool (goal >= 0.9)",
          median(ours), SIZE / 1e6 / median(ours), median(dd), SIZE / 1e6 / median(dd),
          median(dd) / median(ours)));

      GlanceServer glance = GlanceServer.start();
      closers.add(glance::close);
      ManagedChannel gl = serve(new GlanceBackend(glance.url(), "", Clock.systemUTC()), closers);
      List<Double> oursGlance = new ArrayList<>();
      List<Double> curl = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        oursGlance.add(upload(gl, file));
        String created = new String(new ProcessBuilder("curl", "-s", "-X", "POST",
            "-H", "Content-Type: application/json", "-d",
            "{\"name\":\"curl\",\"disk_format\":\"raw\",\"container_format\":\"bare\"}",
            glance.url() + "/v2/images").start().getInputStream().readAllBytes());
        String id = created.replaceAll(".*\"id\": ?\"([0-9a-f-]{36})\".*", "$1");
        curl.add(timedCommand("curl", "-s", "-f", "-T", file.toString(), "-X", "PUT",
            "-H", "Content-Type: application/octet-stream", glance.url() + "/v2/images/" + id + "/file"));
        timedCommand("curl", "-s", "-f", "-X", "DELETE", glance.url() + "/v2/images/" + id);
      }
      report(String.format("Glance store, 1 GiB random, medians of 3: gateway %.2f s (%.0f MB/s),"
          + " curl -T %.2f s (%.0f MB/s), ratio %.2f of the native tool (goal >= 0.9)",
          median(oursGlance), SIZE / 1e6 / median(oursGlance), median(curl), SIZE / 1e6 / median(curl),
          median(curl) / median(oursGlance)));
    } finally {
      for (int i = closers.size() - 1; i >= 0; i--) {
        closers.get(i).close();
      }
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
