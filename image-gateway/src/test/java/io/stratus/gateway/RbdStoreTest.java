package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.rbd.RbdBackend;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.GetUploadStatusRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ImportRbdCloneRequest;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.testkit.CephCluster;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ceph RBD store against a real throwaway Ceph cluster: the contract kit, plus what
 * only RBD has — thin images, the protected snapshot and rbd:// location, direct import of
 * a disk snapshot, clones blocking a delete, resume — each checked with Ceph's own CLI.
 */
class RbdStoreTest extends ImageStoreContract {
  private static final Logger LOG = LoggerFactory.getLogger(RbdStoreTest.class);
  private static final long MIB = 1L << 20;

  private CephCluster ceph;

  @Override
  protected ImageBackend openBackend() {
    ceph = CephCluster.start();
    try {
      return new RbdBackend(ceph.conf(), ceph.imagePool(), Clock.systemUTC());
    } catch (Exception | Error e) {
      ceph.close();
      throw new IllegalStateException("cannot open the RBD store on " + ceph, e);
    }
  }

  @Override
  protected void closeService() {
    if (ceph != null) {
      ceph.close();
    }
  }

  @Override
  protected String expectedBackend() {
    return "rbd";
  }

  // ------------------------------------------------------------------ CLI helpers

  /** Runs a Ceph CLI command against the test cluster; returns its stdout. */
  private String cli(String tool, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(tool, "-c", ceph.conf().toString()));
    cmd.addAll(Arrays.asList(args));
    Path err = Files.createTempFile("stratus-cli-", ".err");
    try {
      Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes());
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " hangs");
      assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed: " + Files.readString(err));
      return out;
    } finally {
      Files.deleteIfExists(err);
    }
  }

  private String rbd(String... args) throws Exception {
    return cli("rbd", args);
  }

  /** RBD images of the image pool, one name a line. */
  private List<String> rbdImages() throws Exception {
    return rbd("ls", ceph.imagePool()).lines().toList();
  }

  /** Record objects of the image pool. */
  private List<String> recordObjects() throws Exception {
    return cli("rados", "-p", ceph.imagePool(), "-N", "stratus", "ls").lines().toList();
  }

  private static long sumOf(String json, String field) {
    Matcher m = Pattern.compile("\"" + field + "\":(\\d+)").matcher(json);
    long sum = 0;
    while (m.find()) {
      sum += Long.parseLong(m.group(1));
    }
    return sum;
  }

  private static String sha512(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-512").digest(b));
  }

  private byte[] download(String id) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    downloadInto(id, out);
    return out.toByteArray();
  }

  private void delete(String id) {
    images().deleteImage(DeleteImageRequest.newBuilder().setImageId(id).build());
  }

  // ------------------------------------------------------------------ RBD-specific tests

  @Test
  void storeInfoNamesTheClusterAndPool() {
    var info = images().getStoreInfo(GetStoreInfoRequest.getDefaultInstance());
    assertEquals(ceph.fsid(), info.getCephFsid());
    assertEquals("images", info.getCephPool());
  }

  @Test
  void aHalfSparseImageStaysThinInCeph() throws Exception {
    Image image = create("half-sparse");
    long size = 64 * MIB;
    TestImage content = TestImage.halfSparse(size, (int) MIB, 7);
    upload(content.messages(image.getId(), "u", CHUNK, true));

    long stored = backend.storedBytes(image.getId());
    String du = rbd("du", "--format", "json", ceph.imagePool() + "/" + image.getId());
    long duUsed = sumOf(du, "used_size");
    LOG.info("half-sparse 64 MiB image: storedBytes={} ({}), rbd du used={} ({})", stored,
        (double) stored / size, duUsed, (double) duUsed / size);
    assertTrue(stored <= 0.52 * size, "storedBytes " + stored + " for a 64 MiB half-sparse image");
    assertTrue(duUsed <= 0.52 * size, "rbd du: " + du);

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long[] got = downloadInto(image.getId(), out);
    assertEquals(size, got[0]);
    assertEquals(32 * MIB, got[1], "the holes come back as zero extents");
    assertEquals(content.sha512(), sha512(out.toByteArray()));
  }

  @Test
  void aCommittedImageHasAProtectedSnapshotAndAnRbdLocation() throws Exception {
    Image image = create("located");
    TestImage content = new TestImage(6 * MIB).data(MIB, (int) (2 * MIB), 51);
    Image active = upload(content.messages(image.getId(), "u", CHUNK, true)).getImage();
    String id = image.getId();
    assertEquals(List.of("rbd://" + ceph.fsid() + "/images/" + id + "/snap"),
        active.getLocationsList());
    assertEquals(active.getLocationsList(), get(id).getLocationsList());

    String snaps = rbd("snap", "ls", "--format", "json", ceph.imagePool() + "/" + id);
    assertTrue(snaps.contains("\"name\":\"snap\""), snaps);
    assertTrue(snaps.contains("\"protected\":\"true\""), snaps);
    assertTrue(rbdImages().contains(id));
    assertFalse(rbdImages().contains(id + ".upload"), "the private upload image was renamed");
    assertTrue(recordObjects().contains("image." + id), "the record lives in Ceph");
  }

  @Test
  void deletingAnImageLeavesNoRbdImageAndNoRecordObject() throws Exception {
    Image image = create("deleted");
    String id = image.getId();
    upload(new TestImage(4 * MIB).data(0, (int) MIB, 61).messages(id, "u", CHUNK, true));
    assertTrue(rbdImages().contains(id));
    assertTrue(recordObjects().contains("image." + id));

    delete(id);
    assertTrue(rbdImages().stream().noneMatch(n -> n.startsWith(id)), "rbd ls: " + rbdImages());
    assertTrue(recordObjects().stream().noneMatch(n -> n.contains(id)), "rados ls: " + recordObjects());
    assertEquals(0, backend.storedBytes(id));
  }

  @Test
  void anImageWhoseSnapshotHasACloneCannotBeDeleted() throws Exception {
    Image image = create("parent");
    String id = image.getId();
    TestImage content = new TestImage(4 * MIB).data(0, (int) (2 * MIB), 71);
    upload(content.messages(id, "u", CHUNK, true));
    String child = "child-" + UUID.randomUUID();
    rbd("clone", ceph.imagePool() + "/" + id + "@snap", ceph.diskPool() + "/" + child);

    var e = assertThrows(StatusRuntimeException.class, () -> delete(id));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("image " + id + " is in use: its snapshot images/" + id + "@snap has the"
        + " dependent clone(s) rbd/" + child + "; flatten or delete them first",
        e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, get(id).getStatus(), "nothing was removed");
    assertEquals(content.sha512(), sha512(download(id)));

    rbd("flatten", ceph.diskPool() + "/" + child);
    delete(id);
    assertTrue(rbdImages().stream().noneMatch(n -> n.startsWith(id)));
    rbd("rm", ceph.diskPool() + "/" + child);
  }

  /** A disk in the disk pool with a protected snapshot, made with the rbd CLI. */
  private record Disk(String name, String snapshot, byte[] content) {}

  private Disk disk(long size, long seed) throws Exception {
    byte[] content = new byte[(int) size];
    Random random = new Random(seed);
    byte[] block = new byte[(int) MIB];
    for (long off = 0; off < size; off += 3 * MIB) {  // data, then two MiB of holes
      random.nextBytes(block);
      System.arraycopy(block, 0, content, (int) off, (int) Math.min(MIB, size - off));
    }
    Path file = Files.createTempFile("stratus-disk-", ".raw");
    try {
      Files.write(file, content);
      String name = "disk-" + UUID.randomUUID();
      rbd("import", file.toString(), ceph.diskPool() + "/" + name);
      rbd("snap", "create", ceph.diskPool() + "/" + name + "@s1");
      rbd("snap", "protect", ceph.diskPool() + "/" + name + "@s1");
      return new Disk(name, "s1", content);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private Image importClone(String id, String fsid, Disk disk) {
    return images().importRbdClone(ImportRbdCloneRequest.newBuilder().setImageId(id)
        .setCephFsid(fsid).setSourcePool(ceph.diskPool()).setSourceImage(disk.name())
        .setSourceSnapshot(disk.snapshot()).build()).getImage();
  }

  @Test
  void importCloneMakesAnIndependentActiveImageWithTheDisksContent() throws Exception {
    Disk disk = disk(10 * MIB, 81);
    Image image = create("direct");
    String id = image.getId();

    Image active = importClone(id, ceph.fsid(), disk);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
    assertEquals(10 * MIB, active.getSize());
    assertEquals(10 * MIB, active.getVirtualSize());
    assertEquals(List.of("rbd://" + ceph.fsid() + "/images/" + id + "/snap"), active.getLocationsList());
    assertEquals("", active.getChecksum(), "a direct import is recorded without reading it");
    assertFalse(rbd("info", "--format", "json", ceph.imagePool() + "/" + id).contains("\"parent\""),
        "the clone was flattened");
    assertTrue(rbd("snap", "ls", "--format", "json", ceph.imagePool() + "/" + id)
        .contains("\"protected\":\"true\""));

    // Independent of the disk: its snapshot and the disk itself can go.
    String src = ceph.diskPool() + "/" + disk.name();
    rbd("snap", "unprotect", src + "@s1");
    rbd("snap", "rm", src + "@s1");
    rbd("rm", src);
    assertEquals(sha512(disk.content()), sha512(download(id)));
    assertTrue(backend.storedBytes(id) <= 4 * MIB + MIB / 2,
        "flatten kept the disk's holes: " + backend.storedBytes(id));
    delete(id);
  }

  @Test
  void importCloneFromAnotherClusterIsRefusedAndLeavesNothing() throws Exception {
    Disk disk = disk(4 * MIB, 91);
    Image image = create("elsewhere");
    String id = image.getId();
    String other = UUID.randomUUID().toString();

    var e = assertThrows(StatusRuntimeException.class, () -> importClone(id, other, disk));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("the store is Ceph cluster " + ceph.fsid() + ", the disk is in " + other
        + ": stream the bytes instead", e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(id).getStatus());
    assertTrue(rbdImages().stream().noneMatch(n -> n.startsWith(id)), "rbd ls: " + rbdImages());

    Disk missing = new Disk(disk.name(), "no-such-snap", disk.content());
    var notFound = assertThrows(StatusRuntimeException.class, () -> importClone(id, ceph.fsid(), missing));
    assertEquals(Status.Code.NOT_FOUND, notFound.getStatus().getCode());
    assertTrue(notFound.getStatus().getDescription().startsWith("snapshot rbd/" + disk.name()
        + "@no-such-snap not found in Ceph cluster " + ceph.fsid()), notFound.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(id).getStatus());
    assertTrue(rbdImages().stream().noneMatch(n -> n.startsWith(id)), "rbd ls: " + rbdImages());

    // The image still takes a correct import.
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, importClone(id, ceph.fsid(), disk).getStatus());
  }

  private long committed(String imageId, String uploadId) {
    return images().getUploadStatus(GetUploadStatusRequest.newBuilder().setImageId(imageId)
        .setUploadId(uploadId).build()).getCommittedOffset();
  }

  @Test
  void anInterruptedUploadResumesFromItsDurableOffsetWithNothingVisibleMeanwhile() throws Exception {
    Image image = create("resume");
    String id = image.getId();
    TestImage content = new TestImage(48 * MIB).data(0, (int) (16 * MIB), 101)
        .data(24 * MIB, (int) (16 * MIB), 102);
    List<UploadImageRequest> all = content.messages(id, "up-1", (int) (2 * MIB), true);
    // header, 8 extents (16 MiB), the hole, 4 more extents: the client dies after 28+ MiB.
    var first = sendThenDie(all.subList(0, 1 + 8 + 1 + 4), id, "up-1", 28 * MIB);
    assertThrows(Exception.class, () -> first.get(60, TimeUnit.SECONDS));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (get(id).getStatus() != ImageStatus.IMAGE_STATUS_QUEUED && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(id).getStatus());
    long committed = committed(id, "up-1");
    assertTrue(committed >= 28 * MIB && committed <= 32 * MIB, "committed " + committed);
    assertEquals(0, committed(id, "another-upload"));
    assertTrue(rbdImages().contains(id + ".upload"), "the durable prefix is kept privately");
    assertFalse(rbdImages().contains(id), "nothing visible before a commit");
    assertEquals(0, backend.storedBytes(id));

    List<UploadImageRequest> rest = new ArrayList<>();
    rest.add(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setImageId(id).setUploadId("up-1").setVirtualSize(content.virtualSize)
        .setResumeOffset(committed)).build());
    for (UploadImageRequest m : all.subList(1, all.size())) {
      if (m.hasTrailer() || m.hasData() && m.getData().getOffset() >= committed) {
        rest.add(m);
      }
    }
    var done = upload(TestImage.retrailed(rest));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, done.getImage().getStatus());
    assertEquals(content.contentDigest(), done.getImage().getContentDigest(),
        "the content digest covers the resumed prefix too");
    assertEquals(content.sha512(), awaitChecksums(id).getOsHashValue());
    assertEquals(content.sha512(), sha512(download(id)));
    assertFalse(rbdImages().contains(id + ".upload"));
  }

  @Test
  void aReplicaSharingThePoolLeavesAnotherReplicasLiveUploadAlone() throws Exception {
    Image image = create("replica-writing");
    String id = image.getId();
    // A second store on the same pool plays another gateway replica, with a 2 s lease it
    // keeps renewing while its upload runs.
    RbdBackend other = new RbdBackend(ceph.conf(), ceph.imagePool(), Clock.systemUTC(),
        java.time.Duration.ofSeconds(2));
    var sink = other.beginUpload(other.get(id).orElseThrow(), "u", 8 * MIB, 0);
    TestImage content = new TestImage(8 * MIB).data(0, (int) MIB, 111);
    try {
      sink.data(0, ByteBuffer.wrap(new byte[(int) MIB]));
      assertEquals(ImageStatus.IMAGE_STATUS_SAVING, get(id).getStatus(), "the record lives in Ceph");
      // a replica starting on the pool does not take the live upload for a crashed one
      new RbdBackend(ceph.conf(), ceph.imagePool(), Clock.systemUTC()).close();
      Thread.sleep(3000);  // longer than the lease: only renewals keep it
      assertEquals(ImageStatus.IMAGE_STATUS_SAVING, get(id).getStatus());
      assertFalse(rbdImages().contains(id), "no visible content: " + rbdImages());
      // and this replica refuses to write the image meanwhile: the uploader retries
      var refused = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> upload(content.messages(id, "u2", CHUNK, true)));
      Status status = Status.fromThrowable(refused.getCause());
      assertEquals(Status.Code.UNAVAILABLE, status.getCode(), status.toString());
      assertTrue(status.getDescription().contains("another gateway replica"), status.toString());
    } finally {
      sink.abort(false);
      other.close();
    }
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(id).getStatus());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
        upload(content.messages(id, "u3", CHUNK, true)).getImage().getStatus());
    assertFalse(rbdImages().contains(id + ".upload"));
    delete(id);
    assertTrue(recordObjects().stream().noneMatch(o -> o.endsWith(id)),
        "neither record nor writer lease outlives the image: " + recordObjects());
  }

  @Test
  void theUploadImageACrashLeftBehindNeitherBlocksANewUploadNorOutlivesTheImage()
      throws Exception {
    // What a gateway killed mid-upload leaves in the pool: ID.upload, no snapshot on it.
    String id = create("crash-leftover").getId();
    rbd("create", "--size", "8M", ceph.imagePool() + "/" + id + ".upload");
    TestImage content = new TestImage(8 * MIB).data(0, (int) MIB, 112);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
        upload(content.messages(id, "from-zero", CHUNK, true)).getImage().getStatus(),
        "an upload from offset 0 replaces the leftover");
    assertFalse(rbdImages().contains(id + ".upload"));

    String other = create("crash-leftover-deleted").getId();
    rbd("create", "--size", "8M", ceph.imagePool() + "/" + other + ".upload");
    delete(other);
    assertTrue(rbdImages().stream().noneMatch(n -> n.startsWith(other)),
        "deleting the image removes the leftover: " + rbdImages());
  }

  // ------------------------------------------------------------------ throughput (opt-in)

  /**
   * Uploads the messages with client-side flow control (only while the call is ready);
   * returns the seconds from the header to the response.
   */
  private double timedUpload(List<UploadImageRequest> messages) throws Exception {
    var result = new CompletableFuture<UploadImageResponse>();
    Object ready = new Object();
    var observer = new ClientResponseObserver<UploadImageRequest, UploadImageResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<UploadImageRequest> call) {
        call.setOnReadyHandler(() -> {
          synchronized (ready) {
            ready.notifyAll();
          }
        });
      }

      @Override
      public void onNext(UploadImageResponse value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
    long start = System.nanoTime();
    var out = (ClientCallStreamObserver<UploadImageRequest>) ImagesGrpc.newStub(channel).uploadImage(observer);
    for (UploadImageRequest m : messages) {
      synchronized (ready) {
        while (!out.isReady() && !result.isDone()) {
          ready.wait(100);
        }
      }
      out.onNext(m);
    }
    out.onCompleted();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, result.get(300, TimeUnit.SECONDS).getImage().getStatus());
    return (System.nanoTime() - start) / 1e9;
  }

  /** Writes the bytes in 4 MiB extents straight into the store (no gRPC, no digests). */
  private double timedBackendWrite(byte[] bytes) throws Exception {
    Image image = create("bench-store");
    long start = System.nanoTime();
    var sink = backend.beginUpload(backend.get(image.getId()).orElseThrow(), "b", bytes.length, 0);
    for (int off = 0; off < bytes.length; off += 4 << 20) {
      sink.data(off, ByteBuffer.wrap(bytes, off, 4 << 20));
    }
    sink.commit(bytes.length, "", false);
    double seconds = (System.nanoTime() - start) / 1e9;
    delete(image.getId());
    return seconds;
  }

  /** A benchmark (deploy/bench.sh): gateway upload vs {@code rbd import}, same cluster. */
  @Test
  @Tag("benchmark")
  void uploadThroughputComparedWithRbdImport() throws Exception {
    long size = 256 * MIB;
    Image image = create("bench");
    TestImage content = new TestImage(size).data(0, (int) size, 2024);
    List<UploadImageRequest> messages = content.messages(image.getId(), "bench", 4 << 20, true);
    long t = System.nanoTime();
    MessageDigest.getInstance("SHA-256").digest(content.runs.get(0).bytes());
    double digestsOnly = (System.nanoTime() - t) / 1e9;
    double viaGateway = timedUpload(messages);
    double backendOnly = timedBackendWrite(content.runs.get(0).bytes());

    Path file = Files.createTempFile(Path.of("/var/tmp"), "stratus-bench-", ".raw");
    Files.write(file, content.runs.get(0).bytes());
    try {
      long t0 = System.nanoTime();
      rbd("import", "--order", "20", file.toString(), ceph.imagePool() + "/bench-import-1m");
      double import1m = (System.nanoTime() - t0) / 1e9;
      t0 = System.nanoTime();
      rbd("import", file.toString(), ceph.imagePool() + "/bench-import-4m");
      double import4m = (System.nanoTime() - t0) / 1e9;
      LOG.info("[bench] 256 MiB random: gateway upload {} s ({} MB/s; sha256 alone {} s; the RBD"
          + " store alone {} s); rbd import 1 MiB objects {} s ({} MB/s); rbd import 4 MiB"
          + " objects {} s ({} MB/s)",
          String.format("%.2f", viaGateway), String.format("%.0f", size / 1e6 / viaGateway),
          String.format("%.2f", digestsOnly), String.format("%.2f", backendOnly),
          String.format("%.2f", import1m), String.format("%.0f", size / 1e6 / import1m),
          String.format("%.2f", import4m), String.format("%.0f", size / 1e6 / import4m));
    } finally {
      Files.deleteIfExists(file);
      rbd("rm", ceph.imagePool() + "/bench-import-1m");
      rbd("rm", ceph.imagePool() + "/bench-import-4m");
      delete(image.getId());
    }
  }
}
