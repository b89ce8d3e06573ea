package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.UploadSink;
import io.stratus.gateway.store.glance.GlanceBackend;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.support.errors.ApiException;
import io.stratus.testkit.GlanceServer;
import io.stratus.testkit.QemuImgTool;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Glance store against a real, throwaway Glance: the contract kit, plus what only
 * Glance shows — its own checksums, that an abort really leaves nothing behind, how
 * killing and owners are represented, zeros read back as holes, error mapping.
 */
class GlanceStoreTest extends ImageStoreContract {
  private static final long MIB = 1 << 20;
  private GlanceServer glance;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Override
  protected ImageBackend openBackend() {
    glance = GlanceServer.start();
    return new GlanceBackend(glance.url(), "", Clock.systemUTC());
  }

  @Override
  protected void closeService() {
    http.close();
    if (glance != null) {
      glance.close();
    }
  }

  @Override
  protected String expectedBackend() {
    return "glance";
  }

  /** Glance's own document of an image, straight from its API. */
  private String glanceDocument(String id) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(glance.url().resolve("/v2/images/" + id))
        .header("Accept", "application/json").build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body();
  }

  /** Files Glance's file store holds for an image. */
  private long filesInGlanceStore(String id) throws Exception {
    try (Stream<Path> files = Files.walk(glance.dir().resolve("images"))) {
      return files.filter(p -> p.getFileName().toString().startsWith(id)).count();
    }
  }

  @Test
  void glancesOwnChecksumsOfAOneMebibyteImageAreTheContentsDigests() throws Exception {
    Image image = create("one-mib");
    TestImage content = new TestImage(1L << 20).data(0, 1 << 20, 51);
    var r = upload(content.messages(image.getId(), "u", CHUNK, true));
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    String doc = glanceDocument(image.getId());
    assertTrue(doc.contains("\"checksum\": \"" + content.md5() + "\""), doc);
    assertTrue(doc.contains("\"os_hash_value\": \"" + content.sha512() + "\""), doc);
    assertTrue(doc.contains("\"size\": 1048576"), doc);
    assertEquals(1L << 20, backend.storedBytes(image.getId()));
  }

  @Test
  void extentsLargerThanOneBodyChunkArriveIntact() throws Exception {
    Image image = create("odd-extents");
    // 3,000,000-byte extents: each is cut into several body chunks at unaligned offsets.
    TestImage content = new TestImage(12L << 20).data(0, 9_000_000, 71).data(10L << 20, 1 << 20, 72);
    var r = upload(content.messages(image.getId(), "u", 3_000_000, true));
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals(content.md5(), r.getImage().getChecksum(), "Glance's own md5, at once");
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    downloadInto(image.getId(), out);
    assertEquals(content.sha512(), HexFormat.of().formatHex(
        MessageDigest.getInstance("SHA-512").digest(out.toByteArray())));
  }

  @Test
  void listingFollowsGlancesPagesOldestFirst() throws Exception {
    for (int i = 0; i < 5; i++) {
      create("paged-" + i);
    }
    List<String> onePage = backend.list().stream().map(ImageRecord::id).toList();
    try (GlanceBackend smallPages = new GlanceBackend(glance.url(), "", Clock.systemUTC(), 2)) {
      assertEquals(onePage, smallPages.list().stream().map(ImageRecord::id).toList());
    }
    assertTrue(onePage.size() >= 5, "listed " + onePage.size());
    List<ImageRecord> all = backend.list();
    for (int i = 1; i < all.size(); i++) {
      assertFalse(all.get(i).createdAt().isBefore(all.get(i - 1).createdAt()), "oldest first");
    }
  }

  @Test
  void anAbortedUploadLeavesTheImageQueuedWithNoBytesInGlance() throws Exception {
    var record = backend.create(new NewImage(UUID.randomUUID().toString(), "aborted", "raw",
        "bare", "project-a", "private", 0, 0, Map.of()));
    UploadSink sink = backend.beginUpload(record, "u", 64L << 20, 0);
    assertEquals(ImageStatus.SAVING, backend.get(record.id()).orElseThrow().status());
    byte[] data = new byte[4 << 20];
    new java.util.Random(3).nextBytes(data);
    for (int i = 0; i < 4; i++) {
      sink.data((long) i * data.length, ByteBuffer.wrap(data));
    }
    // Glance has received bytes into its store before the abort.
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (filesInGlanceStore(record.id()) == 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, filesInGlanceStore(record.id()), "Glance was writing the partial upload");
    sink.abort(false);

    String doc = glanceDocument(record.id());
    assertTrue(doc.contains("\"status\": \"queued\""), doc);
    assertTrue(doc.contains("\"size\": null"), doc);
    assertEquals(ImageStatus.QUEUED, backend.get(record.id()).orElseThrow().status());
    assertEquals(0, backend.storedBytes(record.id()));
    assertEquals(0, filesInGlanceStore(record.id()), "Glance removed the partial data");
  }

  @Test
  void killingAQueuedImageMarksItAndKillingAnActiveOneDeletesIt() throws Exception {
    Image queued = create("kill-queued");
    backend.kill(queued.getId());
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_KILLED,
        get(queued.getId()).getStatus());
    assertTrue(glanceDocument(queued.getId()).contains("\"stratus_status\": \"killed\""));
    assertFalse(get(queued.getId()).getPropertiesMap().containsKey("stratus_status"));

    Image active = create("kill-active");
    upload(new TestImage(1L << 20).data(0, 4096, 5).messages(active.getId(), "u", CHUNK, true));
    assertEquals(1, filesInGlanceStore(active.getId()));
    backend.kill(active.getId());
    var gone = assertThrows(StatusRuntimeException.class, () -> get(active.getId()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
    assertEquals(0, filesInGlanceStore(active.getId()), "Glance dropped the killed image's bytes");
    assertEquals(0, backend.storedBytes(active.getId()));
  }

  @Test
  void holesTravelAsZerosButComeBackAsZeroExtents() throws Exception {
    Image image = create("half-sparse");
    TestImage content = TestImage.halfSparse(16L << 20, 1 << 20, 61);
    upload(content.messages(image.getId(), "u", CHUNK, true));
    assertEquals(16L << 20, backend.storedBytes(image.getId()), "Glance stores the holes as zeros");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long[] got = downloadInto(image.getId(), out);
    assertEquals(16L << 20, got[0]);
    assertEquals(8L << 20, got[1], "all-zero chunks are zero extents again");
  }

  @Test
  void anAnnouncedAllocationIsStoredAsACompactQcow2ThatQemuReadsAsTheContent() throws Exception {
    Image image = create("compact");
    long size = 1024 * MIB;  // two L2 tables
    TestImage content = new TestImage(size).data(100, 3000, 81).data(5 * MIB + 13, (int) MIB, 82)
        .data(512 * MIB - 4096, 8192, 83).data(size - 4096, 4096, 84);
    var r = upload(TestImage.announcing(content.messages(image.getId(), "u", CHUNK, true),
        content.allocation()));
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals("qcow2", r.getImage().getDiskFormat(), "Glance holds a qcow2, as Nova's snapshots");
    assertEquals(size, r.getImage().getVirtualSize());
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    String doc = glanceDocument(image.getId());
    assertTrue(doc.contains("\"disk_format\": \"qcow2\""), doc);
    long stored = backend.storedBytes(image.getId());
    assertTrue(stored < 4 * MIB, "only the allocated clusters travel and are stored: " + stored);

    Path file = Files.createTempFile("glance-compact", ".qcow2");
    Path raw = Files.createTempFile("glance-compact", ".raw");
    try {
      HttpResponse<Path> got = http.send(HttpRequest.newBuilder(
          glance.url().resolve("/v2/images/" + image.getId() + "/file")).build(),
          HttpResponse.BodyHandlers.ofFile(file));
      assertEquals(200, got.statusCode());
      assertEquals(stored, Files.size(file));
      content.writeSparse(raw);
      String check = QemuImgTool.run("check", "-f", "qcow2", file.toString());
      assertTrue(check.contains("No errors were found"), check);
      String compare = QemuImgTool.run("compare", "-f", "raw", "-F", "qcow2", raw.toString(), file.toString());
      assertTrue(compare.contains("Images are identical"), compare);
    } finally {
      Files.deleteIfExists(file);
      Files.deleteIfExists(raw);
    }
    MessageDigest sha512 = MessageDigest.getInstance("SHA-512");
    long[] back = downloadInto(image.getId(),
        new java.security.DigestOutputStream(java.io.OutputStream.nullOutputStream(), sha512));
    assertEquals(size, back[0]);
    assertTrue(back[1] >= size - 4 * MIB, "holes come back as zero extents: " + back[1]);
    assertEquals(content.sha512(), HexFormat.of().formatHex(sha512.digest()));
  }

  @Test
  void dataOutsideTheAnnouncedAllocationIsRefusedAndARawUploadThenSucceeds() throws Exception {
    Image image = create("outside");
    TestImage content = new TestImage(8 * MIB).data(0, 4096, 91).data(4 * MIB, 4096, 92);
    var narrow = io.stratus.proto.image.v1.Allocation.newBuilder().addRanges(0).addRanges(4096).build();
    var e = uploadFails(TestImage.announcing(content.messages(image.getId(), "u", CHUNK, true),
        narrow));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("data.offset"), e.getStatus().getDescription());
    awaitStatus(image.getId(), io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_QUEUED);
    assertEquals(0, filesInGlanceStore(image.getId()), "nothing half-written stays in Glance");

    var r = upload(content.messages(image.getId(), "u2", CHUNK, true));
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals("raw", r.getImage().getDiskFormat(), "an upload without allocation is raw again");
    assertEquals(8 * MIB, backend.storedBytes(image.getId()));
  }

  private void awaitStatus(String id, io.stratus.proto.image.v1.ImageStatus want) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (get(id).getStatus() != want && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertEquals(want, get(id).getStatus());
  }

  @Test
  void theOwnerIsAPropertyInGlanceAndTheRecordsOwner() throws Exception {
    Image image = create("owned");
    assertEquals("project-a", image.getOwner());
    assertEquals("project-a", get(image.getId()).getOwner());
    assertFalse(image.getPropertiesMap().containsKey("stratus_owner"));
    String doc = glanceDocument(image.getId());
    assertTrue(doc.contains("\"stratus_owner\": \"project-a\""), doc);
    assertTrue(doc.contains("\"owner\": null"), doc);
  }

  @Test
  void propertyValuesSurviveTheJsonRoundTripUnchanged() {
    String tricky = "quote \" backslash \\ slash / tab \t newline \n nul-free ctrl \u0001"
        + " unicode é ü 雪 \u2028 end";
    Image image = images().createImage(CreateImageRequest.newBuilder().setName("json \"name\" ✓")
        .setDiskFormat("raw").setContainerFormat("bare").putProperties("tricky", tricky)
        .putProperties("key with spaces/and~tilde", "v").build()).getImage();
    Image back = get(image.getId());
    assertEquals(tricky, back.getPropertiesMap().get("tricky"));
    assertEquals("json \"name\" ✓", back.getName());
    Image updated = images().updateImage(UpdateImageRequest.newBuilder().setImageId(image.getId())
        .putSetProperties("tricky", tricky + "!").addRemoveProperties("key with spaces/and~tilde")
        .addRemoveProperties("never-there").build()).getImage();
    assertEquals(tricky + "!", updated.getPropertiesMap().get("tricky"));
    assertFalse(updated.getPropertiesMap().containsKey("key with spaces/and~tilde"));

    // Glance's own limit (its MySQL heritage): no characters outside the BMP.
    var emoji = assertThrows(StatusRuntimeException.class, () -> images().updateImage(
        UpdateImageRequest.newBuilder().setImageId(image.getId())
            .putSetProperties("tricky", "rocket \uD83D\uDE80").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, emoji.getStatus().getCode());
    assertTrue(emoji.getStatus().getDescription().contains("can't contain 4 byte unicode"),
        emoji.getStatus().getDescription());
  }

  @Test
  void glanceRefusalsMapToApiErrorsThatNameTheField() {
    var readOnly = assertThrows(StatusRuntimeException.class, () -> images().createImage(
        CreateImageRequest.newBuilder().setName("x").putProperties("stores", "fs").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, readOnly.getStatus().getCode());
    assertEquals("properties.stores: is reserved by the Glance image store, not a property",
        readOnly.getStatus().getDescription());

    String id = UUID.randomUUID().toString();
    backend.create(new NewImage(id, "dup", "raw", "bare", "", "private", 0, 0, Map.of()));
    var dup = assertThrows(ApiException.class, () -> backend.create(
        new NewImage(id, "dup", "raw", "bare", "", "private", 0, 0, Map.of())));
    assertEquals(ApiException.Kind.ALREADY_EXISTS, dup.kind());
    assertEquals("image " + id + " already exists", dup.getMessage());

    var badFormat = assertThrows(ApiException.class, () -> backend.create(new NewImage(
        UUID.randomUUID().toString(), "x", "qcow3", "", "", "private", 0, 0, Map.of())));
    assertEquals(ApiException.Kind.INVALID_ARGUMENT, badFormat.kind());
    assertTrue(badFormat.getMessage().startsWith("disk_format: Provided object does not match"
        + " schema 'image': 'qcow3' is not one of"), badFormat.getMessage());

    var missing = assertThrows(ApiException.class, () -> backend.delete(UUID.randomUUID().toString()));
    assertEquals(ApiException.Kind.NOT_FOUND, missing.kind());
    assertTrue(backend.get(UUID.randomUUID().toString()).isEmpty());
  }

  @Test
  void aGlanceThatIsNotThereIsUnavailable() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    try (GlanceBackend dead = new GlanceBackend(URI.create("http://127.0.0.1:" + port), "t",
        Clock.systemUTC())) {
      var e = assertThrows(ApiException.class, () -> dead.get(UUID.randomUUID().toString()));
      assertEquals(ApiException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().startsWith("Glance at http://127.0.0.1:" + port + " is unavailable"),
          e.getMessage());
    }
  }

  @Test
  void anUploadToAnImageThatIsNotQueuedIsRefusedByGlance() throws Exception {
    var record = backend.create(new NewImage(UUID.randomUUID().toString(), "refused", "raw",
        "bare", "", "private", 0, 0, Map.of()));
    UploadSink sink = backend.beginUpload(record, "u", 4096, 0);
    sink.data(0, ByteBuffer.wrap(new byte[] {1, 2, 3}));
    var active = sink.commit(4096, "", false);
    assertEquals(ImageStatus.ACTIVE, active.status());
    assertEquals(4096, active.size());
    var e = assertThrows(ApiException.class, () -> backend.beginUpload(active, "u2", 4096, 0));
    assertEquals(ApiException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("image " + record.id() + ": Image status transition from active to saving is"
        + " not allowed", e.getMessage());
    assertEquals(Set.of(), Set.copyOf(images().getImage(GetImageRequest.newBuilder()
        .setImageId(record.id()).build()).getImage().getPropertiesMap().keySet()));
  }
}
