package io.stratus.gateway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import io.stratus.support.tls.TransportSecurity;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.proto.image.v1.ActivateEmptyImageRequest;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.DownloadImageRequest;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The contract every image store passes (STYLE 12), through the real gRPC service with
 * the store plugged in: records, validation, the upload protocol, verification, clean-up
 * of failed uploads, download, listing. Each store's test class extends this and opens
 * its backend against the real service (a directory, a real Glance, a real Ceph).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class ImageStoreContract {
  /** Data extents are sent in chunks of this size. */
  protected static final int CHUNK = 1 << 20;

  protected ImageBackend backend;
  protected ImageGateway gateway;
  protected ManagedChannel channel;
  protected ImagesGrpc.ImagesBlockingStub images;

  /** Opens the store under test (called once per class). */
  protected abstract ImageBackend openBackend() throws Exception;

  /** Stops whatever real service the store used (after the gateway closed). */
  protected void closeService() throws Exception {}

  /** The store's kind, as GetStoreInfo reports it. */
  protected abstract String expectedBackend();

  @BeforeAll
  void startGateway() throws Exception {
    backend = openBackend();
    String name = InProcessServerBuilder.generateName();
    gateway = ImageGateway.start(GatewayConfig.fromMap(Map.of("fs.dir", "/unused", "uploads.max", "8",
            "tls.insecure", "true")),
        InProcessServerBuilder.forName(name), TransportSecurity.plaintext("test gateway"), backend);
    channel = InProcessChannelBuilder.forName(name).maxInboundMessageSize(8 << 20).build();
    images = ImagesGrpc.newBlockingStub(channel);
  }

  @AfterAll
  void stopGateway() throws Exception {
    channel.shutdownNow();
    gateway.close();
    closeService();
  }

  protected ImagesGrpc.ImagesBlockingStub images() {
    return images.withDeadlineAfter(120, TimeUnit.SECONDS);
  }

  protected Image create(String name) {
    return images().createImage(CreateImageRequest.newBuilder().setName(name)
        .setDiskFormat("raw").setContainerFormat("bare").setOwner("project-a")
        .putProperties("image_type", "snapshot").build()).getImage();
  }

  protected Image get(String id) {
    return images().getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage();
  }

  /** Sends the messages in order and half-closes; returns the response or the error. */
  protected CompletableFuture<UploadImageResponse> send(List<UploadImageRequest> messages,
      boolean complete) {
    UploadCall call = UploadCall.open(channel, 300);
    for (UploadImageRequest m : messages) {
      if (call.result.isDone()) {
        break;
      }
      call.out.onNext(m);
    }
    if (complete) {
      call.out.onCompleted();
    } else {
      call.giveUp("client gave up");
    }
    return call.result;
  }

  /**
   * Sends the messages, waits until the gateway shows the upload in progress (saving),
   * then breaks the call off as a client that gives up mid-upload.
   */
  protected CompletableFuture<UploadImageResponse> sendThenGiveUp(
      List<UploadImageRequest> messages, String imageId) throws Exception {
    UploadCall call = UploadCall.open(channel, 0);
    messages.forEach(call.out::onNext);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (get(imageId).getStatus() != ImageStatus.IMAGE_STATUS_SAVING) {
      assertTrue(System.nanoTime() < deadline, "the upload never started");
      Thread.sleep(10);
    }
    call.giveUp("client gave up");
    return call.result;
  }

  /**
   * Sends the messages, waits until the gateway reports at least {@code durable} bytes of
   * this upload as durable, then breaks the call off as a dying client would.
   */
  protected CompletableFuture<UploadImageResponse> sendThenDie(List<UploadImageRequest> messages,
      String imageId, String uploadId, long durable) throws Exception {
    UploadCall call = UploadCall.open(channel, 0);
    messages.forEach(call.out::onNext);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (images().getUploadStatus(io.stratus.proto.image.v1.GetUploadStatusRequest.newBuilder()
        .setImageId(imageId).setUploadId(uploadId).build()).getCommittedOffset() < durable) {
      assertTrue(System.nanoTime() < deadline, "the gateway never made " + durable + " bytes durable");
      Thread.sleep(20);
    }
    call.giveUp("client died");
    return call.result;
  }

  protected UploadImageResponse upload(List<UploadImageRequest> messages) throws Exception {
    return send(messages, true).get(300, TimeUnit.SECONDS);
  }

  protected StatusRuntimeException uploadFails(List<UploadImageRequest> messages) {
    var e = assertThrows(Exception.class, () -> upload(messages));
    return (StatusRuntimeException) e.getCause();
  }

  /**
   * The image once the gateway's background pass is done (md5 and sha512 filled, at once
   * for a store that computes its own; the content digest checked); fails if that takes
   * longer than a minute.
   */
  protected Image awaitChecksums(String id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    Image i = get(id);
    while (i.getPropertiesMap().containsKey("stratus_checksum_pending")
        || i.getPropertiesMap().containsKey("stratus_digest_pending")) {
      assertTrue(System.nanoTime() < deadline, "checksums of image " + id + " still pending");
      Thread.sleep(20);
      i = get(id);
    }
    return i;
  }

  /** Downloads and rebuilds the whole content; returns its sha512 and the zero-extent bytes. */
  protected long[] downloadInto(String id, java.io.OutputStream content) throws Exception {
    Iterator<DownloadImageResponse> it = images().downloadImage(
        DownloadImageRequest.newBuilder().setImageId(id).build());
    assertTrue(it.next().hasImage(), "the first message describes the image");
    long pos = 0;
    long zeroBytes = 0;
    while (it.hasNext()) {
      var m = it.next();
      if (m.hasData()) {
        assertEquals(pos, m.getData().getOffset(), "extents arrive in order without gaps");
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(m.getData().getData().asReadOnlyByteBuffer());
        assertTrue(m.getData().hasCrc32C(), "every data extent carries its crc32c");
        assertEquals((int) crc.getValue(), m.getData().getCrc32C(), "crc32c at " + pos);
        m.getData().getData().writeTo(content);
        pos += m.getData().getData().size();
      } else {
        assertEquals(pos, m.getZero().getOffset(), "extents arrive in order without gaps");
        byte[] zeros = new byte[1 << 20];
        for (long left = m.getZero().getLength(); left > 0; left -= zeros.length) {
          content.write(zeros, 0, (int) Math.min(left, zeros.length));
        }
        zeroBytes += m.getZero().getLength();
        pos += m.getZero().getLength();
      }
    }
    return new long[] {pos, zeroBytes};
  }

  private static String sha512(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-512").digest(b));
  }

  @Test
  void recordsFollowGlancesLifecycle() {
    Image created = create("lifecycle");
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, created.getStatus());
    assertEquals("snapshot", created.getPropertiesMap().get("image_type"));
    assertEquals("private", created.getVisibility());
    assertEquals(created.getId(), get(created.getId()).getId());

    Image updated = images().updateImage(UpdateImageRequest.newBuilder().setImageId(created.getId())
        .setName("renamed").putSetProperties("os_distro", "cirros")
        .addRemoveProperties("image_type").build()).getImage();
    assertEquals("renamed", updated.getName());
    assertEquals("cirros", updated.getPropertiesMap().get("os_distro"));
    assertFalse(updated.getPropertiesMap().containsKey("image_type"));

    images().deleteImage(DeleteImageRequest.newBuilder().setImageId(created.getId()).build());
    var again = assertThrows(StatusRuntimeException.class, () -> images().deleteImage(
        DeleteImageRequest.newBuilder().setImageId(created.getId()).build()));
    assertEquals(Status.Code.NOT_FOUND, again.getStatus().getCode());
    assertEquals("image " + created.getId() + " not found", again.getStatus().getDescription());
  }

  @Test
  void badRecordsAreRefusedNamingTheField() {
    var format = assertThrows(StatusRuntimeException.class, () -> images().createImage(
        CreateImageRequest.newBuilder().setName("x").setDiskFormat("qcow3").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, format.getStatus().getCode());
    assertTrue(format.getStatus().getDescription().startsWith("disk_format: 'qcow3' is not one of"),
        format.getStatus().getDescription());
    var reserved = assertThrows(StatusRuntimeException.class, () -> images().createImage(
        CreateImageRequest.newBuilder().setName("x").putProperties("status", "active").build()));
    assertEquals("properties.status: is a reserved attribute, not a property",
        reserved.getStatus().getDescription());
    var badId = assertThrows(StatusRuntimeException.class, () -> get("nope"));
    assertEquals(Status.Code.INVALID_ARGUMENT, badId.getStatus().getCode());
    assertEquals("image_id: 'nope' is not a UUID", badId.getStatus().getDescription());
  }

  @Test
  void sparseUploadBecomesActiveWithItsContentDigestThenChecksumsAndDownloadsIdentically()
      throws Exception {
    Image image = create("sparse");
    TestImage content = new TestImage(24L << 20)
        .data(0, 3 << 20, 1)
        .data(8L << 20, 1 << 20, 2)
        .data(20L << 20, 2 << 20, 3);  // the last 2 MiB are a hole nobody sends
    UploadImageResponse r = upload(content.messages(image.getId(), "u1", CHUNK, true));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals(content.dataBytes(), r.getBytesReceived(), "holes were never sent as bytes");
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    assertFalse(r.getImage().getPropertiesMap().containsKey("stratus_content_digest"),
        "the content digest is a field, not a property");
    if (!backend.computesChecksums()) {
      assertEquals("true", r.getImage().getPropertiesMap().get("stratus_checksum_pending"),
          "active before md5 and sha512: they are computed after");
      assertEquals("", r.getImage().getChecksum());
    }
    Image active = awaitChecksums(image.getId());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
    assertEquals(content.contentDigest(), active.getContentDigest());
    assertEquals(content.md5(), active.getChecksum());
    assertEquals("sha512", active.getOsHashAlgo());
    assertEquals(content.sha512(), active.getOsHashValue());
    assertEquals(content.virtualSize, active.getVirtualSize());

    ByteArrayOutputStream downloaded = new ByteArrayOutputStream();
    long[] got = downloadInto(image.getId(), downloaded);
    assertEquals(content.virtualSize, got[0]);
    assertEquals(content.sha512(), sha512(downloaded.toByteArray()));
  }

  @Test
  void anEmptyUploadMakesAnActiveImageOfSizeZero() throws Exception {
    Image image = create("empty");  // e.g. a volume-backed snapshot: its content is elsewhere
    TestImage content = new TestImage(0);
    UploadImageResponse r = upload(content.messages(image.getId(), "u-empty", CHUNK, true));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    Image active = awaitChecksums(image.getId());
    assertEquals(0, active.getVirtualSize());
    assertEquals(0, active.getSize());
    assertEquals("d41d8cd98f00b204e9800998ecf8427e", active.getChecksum(), "md5 of nothing");
    ByteArrayOutputStream downloaded = new ByteArrayOutputStream();
    assertEquals(0, downloadInto(image.getId(), downloaded)[0]);
    assertEquals(0, downloaded.size());
  }

  @Test
  void activateEmptyImageNeedsNoUploadStream() throws Exception {
    Image image = create("activate-empty");
    Image active = images().activateEmptyImage(ActivateEmptyImageRequest.newBuilder()
        .setImageId(image.getId()).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
    assertEquals(0, active.getSize());
    assertEquals(new TestImage(0).contentDigest(), active.getContentDigest());
    assertEquals("d41d8cd98f00b204e9800998ecf8427e", awaitChecksums(image.getId()).getChecksum());

    var again = assertThrows(StatusRuntimeException.class, () -> images().activateEmptyImage(
        ActivateEmptyImageRequest.newBuilder().setImageId(image.getId()).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, again.getStatus().getCode());
    assertEquals("image " + image.getId() + " is active, not queued; it cannot take an upload",
        again.getStatus().getDescription());
    var badId = assertThrows(StatusRuntimeException.class, () -> images().activateEmptyImage(
        ActivateEmptyImageRequest.newBuilder().setImageId("../x").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, badId.getStatus().getCode());
    assertEquals("header.image_id: '../x' is not a UUID", badId.getStatus().getDescription());
    var missing = assertThrows(StatusRuntimeException.class, () -> images().activateEmptyImage(
        ActivateEmptyImageRequest.newBuilder().setImageId(UUID.randomUUID().toString()).build()));
    assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
  }

  @Test
  void moreThanThePropertyQuotaIsResourceExhaustedAndCreatesNothing() {
    var tooMany = new java.util.HashMap<String, String>();
    for (int i = 0; i <= 128; i++) {
      tooMany.put("k" + i, "v");
    }
    var e = assertThrows(StatusRuntimeException.class, () -> images().createImage(
        CreateImageRequest.newBuilder().setName("quota").putAllProperties(tooMany).build()));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("properties: has 129 entries, over the limit image_property_quota = 128",
        e.getStatus().getDescription());
    assertTrue(images().listImages(ListImagesRequest.newBuilder().setPageSize(1000).build())
        .getImagesList().stream().noneMatch(i -> i.getName().equals("quota")));

    // nor can updates grow an image past it, one at a time (the store's own properties
    // count too, as Glance counts them)
    Image image = create("quota-by-updates");
    StatusRuntimeException over = null;
    int accepted = image.getPropertiesCount();
    for (int i = 0; i < 130 && over == null; i++) {
      try {
        accepted = images().updateImage(UpdateImageRequest.newBuilder().setImageId(image.getId())
            .putSetProperties("k" + i, "v").build()).getImage().getPropertiesCount();
      } catch (StatusRuntimeException refused) {
        over = refused;
      }
    }
    assertTrue(over != null, "130 properties were accepted");
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, over.getStatus().getCode());
    // the refused update changed nothing; Glance may count a hidden attribute of its own
    int left = images().getImage(GetImageRequest.newBuilder().setImageId(image.getId())
        .build()).getImage().getPropertiesCount();
    assertEquals(accepted, left);
    assertTrue(left >= 127 && left <= 128, left + " properties");
  }

  @Test
  void aProtectedImageCannotBeDeletedUntilUnprotected() {
    Image image = images().createImage(CreateImageRequest.newBuilder().setName("keep-me")
        .setDiskFormat("raw").setContainerFormat("bare").setOwner("project-a")
        .setProtected(true).build()).getImage();
    assertTrue(image.getProtected());
    var refused = assertThrows(StatusRuntimeException.class, () -> images().deleteImage(
        DeleteImageRequest.newBuilder().setImageId(image.getId()).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
    assertTrue(get(image.getId()).getProtected(), "still there, still protected");

    Image open = images().updateImage(UpdateImageRequest.newBuilder().setImageId(image.getId())
        .setProtected(false).build()).getImage();
    assertEquals(false, open.getProtected());
    images().deleteImage(DeleteImageRequest.newBuilder().setImageId(image.getId()).build());
    var gone = assertThrows(StatusRuntimeException.class, () -> get(image.getId()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
  }

  @Test
  void theGatewaysOwnPropertiesCannotBeSetOrRemovedByClients() {
    Image image = create("reserved-props");
    var set = assertThrows(StatusRuntimeException.class, () -> images().updateImage(
        UpdateImageRequest.newBuilder().setImageId(image.getId())
            .putSetProperties("stratus_checksum_pending", "false").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, set.getStatus().getCode());
    assertEquals("set_properties.stratus_checksum_pending: properties named stratus_* are set by"
        + " the image-gateway only", set.getStatus().getDescription());
    var remove = assertThrows(StatusRuntimeException.class, () -> images().updateImage(
        UpdateImageRequest.newBuilder().setImageId(image.getId())
            .addRemoveProperties("stratus_content_digest").build()));
    assertEquals("remove_properties.stratus_content_digest: properties named stratus_* are set"
        + " by the image-gateway only", remove.getStatus().getDescription());
    var create = assertThrows(StatusRuntimeException.class, () -> images().createImage(
        CreateImageRequest.newBuilder().setName("x").putProperties("stratus_content_digest", "x")
            .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, create.getStatus().getCode());
  }

  @Test
  void aVolumeBackedSnapshotIsDeletedOnlyOnceItsVolumeSnapshotsAreReleased() throws Exception {
    Image image = images().createImage(CreateImageRequest.newBuilder().setName("vb")
        .setDiskFormat("raw").setContainerFormat("bare").setOwner("project-a")
        .putProperties("bdm_v2", "True")
        .putProperties("block_device_mapping", "[{\"source_type\":\"snapshot\"}]").build()).getImage();
    var e = assertThrows(StatusRuntimeException.class, () -> images().deleteImage(
        DeleteImageRequest.newBuilder().setImageId(image.getId()).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("Servers.DeleteSnapshotImage"),
        e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus(), "still there");
    images().deleteImage(DeleteImageRequest.newBuilder().setImageId(image.getId())
        .setVolumeSnapshotsReleased(true).build());
    var gone = assertThrows(StatusRuntimeException.class, () -> get(image.getId()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
  }

  @Test
  void extentsOutOfOrderAreRefusedAndTheImageIsQueuedAgainWithNothingStored() throws Exception {
    Image image = create("out-of-order");
    TestImage content = new TestImage(8L << 20).data(4L << 20, 1 << 20, 5);
    List<UploadImageRequest> messages = new ArrayList<>(content.messages(image.getId(), "u1", CHUNK, false));
    messages.add(UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
        .setOffset(1L << 20).setData(ByteString.copyFrom(new byte[4096]))).build());
    var e = uploadFails(messages);
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals("data.offset: 1048576 goes back or overlaps: the next extent must start at or after 5242880",
        e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    assertEquals(0, backend.storedBytes(image.getId()), "partial data was removed");

    // The image takes a correct upload afterwards.
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
        upload(content.messages(image.getId(), "u2", CHUNK, true)).getImage().getStatus());
  }

  @Test
  void aBadAllocationIsRefusedNamingTheFieldAndAGoodOneIsHonoured() throws Exception {
    Image image = create("allocation");
    TestImage content = new TestImage(4L << 20).data(0, 4096, 11).data(1L << 20, 4096, 12);
    List<UploadImageRequest> plain = content.messages(image.getId(), "u", CHUNK, true);
    Map<String, long[]> bad = new java.util.LinkedHashMap<>();
    bad.put("must hold (offset, length) pairs; got 3 numbers", new long[] {0, 4096, 1 << 20});
    bad.put("range 1 at 100 does not start after the end of the previous one (4096)",
        new long[] {0, 4096, 100, 10});
    bad.put("range 0 has length 0; lengths must be positive", new long[] {0, 0});
    bad.put("range 0 [4190208, +8192) ends beyond the virtual size 4194304",
        new long[] {(4L << 20) - 4096, 8192});
    for (var b : bad.entrySet()) {
      var allocation = io.stratus.proto.image.v1.Allocation.newBuilder();
      for (long v : b.getValue()) {
        allocation.addRanges(v);
      }
      var e = uploadFails(TestImage.announcing(plain, allocation.build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertEquals("header.allocation: " + b.getKey(), e.getStatus().getDescription());
      assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    }
    var r = upload(TestImage.announcing(plain, content.allocation()));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, r.getImage().getStatus());
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    assertEquals(4L << 20, r.getImage().getVirtualSize());
  }

  @Test
  void aVirtualSizeBeyondTheLimitIsRefusedNamingItAndNothingStarts() throws Exception {
    Image image = create("too-large");
    List<UploadImageRequest> huge = new ArrayList<>(new TestImage(4096).data(0, 4096, 13)
        .messages(image.getId(), "u", CHUNK, true));
    huge.set(0, UploadImageRequest.newBuilder().setHeader(huge.get(0).getHeader().toBuilder()
        .setVirtualSize(1L << 62)).build());
    var e = uploadFails(huge);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
    assertEquals("header.virtual_size: 4611686018427387904 bytes exceed the limit"
        + " upload.max.virtual.bytes = 17592186044416", e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    assertEquals(0, backend.storedBytes(image.getId()));
  }

  @Test
  void protocolMistakesNameTheField() {
    Image image = create("protocol");
    TestImage content = new TestImage(4L << 20).data(0, 4096, 9);
    var noHeader = uploadFails(List.of(content.messages(image.getId(), "u", CHUNK, false).get(1)));
    assertEquals("data: the first message must be the header", noHeader.getStatus().getDescription());

    List<UploadImageRequest> past = new ArrayList<>(content.messages(image.getId(), "u", CHUNK, false));
    past.add(TestImage.zero(4096, 8L << 20));
    var pastEnd = uploadFails(past);
    assertEquals(Status.Code.INVALID_ARGUMENT, pastEnd.getStatus().getCode());
    assertEquals("zero.offset: extent [4096, 8392704) ends past virtual_size 4194304",
        pastEnd.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());

    var unknown = uploadFails(content.messages(UUID.randomUUID().toString(), "u", CHUNK, false));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
  }

  @Test
  void aSecondUploadToAnActiveImageIsRefusedAndChangesNothing() throws Exception {
    Image image = create("twice");
    TestImage content = new TestImage(2L << 20).data(0, 1 << 20, 11);
    upload(content.messages(image.getId(), "u1", CHUNK, true));
    TestImage other = new TestImage(2L << 20).data(0, 1 << 20, 12);
    var e = uploadFails(other.messages(image.getId(), "u2", CHUNK, true));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
    assertEquals("image " + image.getId() + " is active, not queued; it cannot take an upload",
        e.getStatus().getDescription());
    assertEquals(content.contentDigest(), get(image.getId()).getContentDigest());
  }

  @Test
  void aContentDigestThatDiffersFromTheUploadersKillsTheImage() throws Exception {
    Image image = create("corrupt");
    TestImage content = new TestImage(2L << 20).data(0, 1 << 20, 13);
    List<UploadImageRequest> messages = new ArrayList<>(content.messages(image.getId(), "u", CHUNK, false));
    var trailer = TestImage.trailerFor(messages).getTrailer().toBuilder()
        .setContentDigest("sha256-4m:" + "00".repeat(32));
    messages.add(UploadImageRequest.newBuilder().setTrailer(trailer).build());
    assertKilled(image, uploadFails(messages), "content digest sha256-4m:" + "00".repeat(32)
        + " sent by the uploader differs from " + content.contentDigest() + " received");
  }

  /** The messages of an upload whose header promises the content digest in the trailer. */
  private static List<UploadImageRequest> withPromisedDigest(List<UploadImageRequest> messages,
      String digest) {
    List<UploadImageRequest> out = new ArrayList<>(messages);
    out.set(0, UploadImageRequest.newBuilder().setHeader(out.get(0).getHeader().toBuilder()
        .setContentDigestInTrailer(true)).build());
    int last = out.size() - 1;
    out.set(last, UploadImageRequest.newBuilder().setTrailer(out.get(last).getTrailer().toBuilder()
        .setContentDigest(digest)).build());
    return out;
  }

  @Test
  void anUploadersDigestIsRecordedAndTheStoredBytesAreCheckedAgainstIt() throws Exception {
    Image image = create("promised");
    TestImage content = new TestImage(9L << 20).data(1 << 20, 5 << 20, 31);
    var r = upload(withPromisedDigest(content.messages(image.getId(), "u", CHUNK, true),
        content.contentDigest()));
    assertEquals(content.contentDigest(), r.getImage().getContentDigest());
    assertEquals("true", r.getImage().getPropertiesMap().get(backend.computesChecksums()
        ? "stratus_digest_pending" : "stratus_checksum_pending"), "the check is still to come");
    Image checked = awaitChecksums(image.getId());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, checked.getStatus());
    assertEquals(content.sha512(), checked.getOsHashValue());
    assertFalse(checked.getPropertiesMap().containsKey("stratus_digest_pending"));
  }

  @Test
  void anUploadersDigestThatDoesNotMatchTheBytesNeverLetsThemBeServed() throws Exception {
    Image image = create("lying");
    TestImage content = new TestImage(6L << 20).data(0, 2 << 20, 33);
    String wrong = new TestImage(6L << 20).data(0, 2 << 20, 34).contentDigest();
    List<UploadImageRequest> messages = withPromisedDigest(
        content.messages(image.getId(), "u", CHUNK, true), wrong);
    var r = upload(messages);
    assertEquals(wrong, r.getImage().getContentDigest(), "recorded as promised");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    // The record turns killed first, then the bytes go (in that order, under the image's
    // lock); Glance can only drop an active image's bytes by deleting the image.
    while (!killedOrGone(image.getId()) || backend.storedBytes(image.getId()) != 0) {
      assertTrue(System.nanoTime() < deadline, "the background check never caught the lie: "
          + backend.get(image.getId()) + ", " + backend.storedBytes(image.getId()) + " bytes");
      Thread.sleep(20);
    }
  }

  private boolean killedOrGone(String id) {
    return backend.get(id).map(r -> r.status() == io.stratus.gateway.domain.ImageStatus.KILLED)
        .orElse(true);
  }

  @Test
  void aPromisedDigestThatIsNotOneIsRefusedNamingTheField() throws Exception {
    Image image = create("malformed-digest");
    TestImage content = new TestImage(2L << 20).data(0, 1 << 20, 35);
    var e = uploadFails(withPromisedDigest(content.messages(image.getId(), "u", CHUNK, true),
        "md5:abc"));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals("trailer.content_digest: must be sha256-4m: and 64 hex digits, as the header"
        + " promised", e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
  }

  @Test
  void anExtentCorruptedOnTheWayKillsTheImageBeforeItIsStored() throws Exception {
    Image image = create("bit-flip");
    TestImage content = new TestImage(4L << 20).data(0, 2 << 20, 17);
    List<UploadImageRequest> messages = new ArrayList<>(content.messages(image.getId(), "u", CHUNK, true));
    var second = messages.get(2).getData();
    byte[] flipped = second.getData().toByteArray();
    flipped[12345] ^= 0x10;
    messages.set(2, UploadImageRequest.newBuilder().setData(second.toBuilder()
        .setData(ByteString.copyFrom(flipped))).build());
    var e = uploadFails(messages);
    assertKilled(image, e, "the data extent at 1048576 (1048576 bytes) arrived with crc32c");
  }

  @Test
  void anExtentLostOnTheWayIsCaughtByTheTrailer() throws Exception {
    Image image = create("lost-extent");
    TestImage content = new TestImage(4L << 20).data(0, 3 << 20, 19);
    List<UploadImageRequest> messages = new ArrayList<>(content.messages(image.getId(), "u", CHUNK, true));
    messages.remove(2);  // the trailer still counts it
    assertKilled(image, uploadFails(messages), "the uploader sent 3145728 data bytes, 2097152 arrived");

    Image moved = create("moved-extent");
    List<UploadImageRequest> shifted = new ArrayList<>(content.messages(moved.getId(), "u", CHUNK, true));
    var last = shifted.get(3).getData();
    // Same bytes and crc, same total, but stored 1 MiB further: only the extent chain shows it.
    shifted.set(3, UploadImageRequest.newBuilder().setData(last.toBuilder()
        .setOffset(last.getOffset() + (1 << 20))).build());
    assertKilled(moved, uploadFails(shifted),
        "the list of extents the uploader sent differs from the one received");
  }

  private void assertKilled(Image image, StatusRuntimeException e, String why) throws Exception {
    assertEquals(Status.Code.DATA_LOSS, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith(why), e.getStatus().getDescription());
    assertTrue(e.getStatus().getDescription().endsWith("image " + image.getId() + " was killed"),
        e.getStatus().getDescription());
    Image after = images().getImage(GetImageRequest.newBuilder().setImageId(image.getId()).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_KILLED, after.getStatus());
    assertEquals(0, backend.storedBytes(image.getId()));
  }

  @Test
  void dataWithoutItsCrcOrAnUploadWithoutTrailerIsRefusedNamingTheField() throws Exception {
    Image image = create("no-crc");
    TestImage content = new TestImage(2L << 20).data(0, 1 << 20, 23);
    List<UploadImageRequest> messages = new ArrayList<>(content.messages(image.getId(), "u", CHUNK, true));
    messages.set(1, UploadImageRequest.newBuilder().setData(messages.get(1).getData().toBuilder()
        .clearCrc32C()).build());
    var noCrc = uploadFails(messages);
    assertEquals(Status.Code.INVALID_ARGUMENT, noCrc.getStatus().getCode());
    assertEquals("data.crc32c: is required (CRC32C of data)", noCrc.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());

    var noTrailer = uploadFails(content.messages(image.getId(), "u2", CHUNK, false));
    assertEquals(Status.Code.INVALID_ARGUMENT, noTrailer.getStatus().getCode());
    assertEquals("trailer: the upload ended without its trailer", noTrailer.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    assertEquals(0, backend.storedBytes(image.getId()), "partial data was removed");
  }

  @Test
  void aClientThatGivesUpLeavesTheImageQueuedAndNothingVisible() throws Exception {
    Image image = create("abandoned");
    TestImage content = new TestImage(8L << 20).data(0, 4 << 20, 15);
    List<UploadImageRequest> messages = content.messages(image.getId(), "u", CHUNK, true);
    var r = sendThenGiveUp(messages.subList(0, 3), image.getId());
    assertThrows(Exception.class, () -> r.get(30, TimeUnit.SECONDS));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (get(image.getId()).getStatus() != ImageStatus.IMAGE_STATUS_QUEUED
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, get(image.getId()).getStatus());
    var download = assertThrows(StatusRuntimeException.class, () -> images().downloadImage(
        DownloadImageRequest.newBuilder().setImageId(image.getId()).build()).next());
    assertEquals(Status.Code.FAILED_PRECONDITION, download.getStatus().getCode());
    images().deleteImage(DeleteImageRequest.newBuilder().setImageId(image.getId()).build());
    assertEquals(0, backend.storedBytes(image.getId()));
  }

  @Test
  void concurrentUploadsOfDifferentImagesAllLand() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<Boolean>> results = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int n = i;
      results.add(pool.submit(() -> {
        Image image = create("concurrent-" + n);
        TestImage content = TestImage.halfSparse(8L << 20, 1 << 20, 100 + n);
        upload(content.messages(image.getId(), "u", CHUNK, true));
        return content.contentDigest().equals(get(image.getId()).getContentDigest());
      }));
    }
    for (Future<Boolean> f : results) {
      assertTrue(f.get(300, TimeUnit.SECONDS));
    }
    pool.shutdown();
  }

  @Test
  void listFiltersAndPages() {
    String marker = UUID.randomUUID().toString();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(images().createImage(CreateImageRequest.newBuilder().setName("list-" + i)
          .setOwner("project-list").putProperties("marker", marker).build()).getImage().getId());
    }
    List<String> seen = new ArrayList<>();
    String token = "";
    do {
      var page = images().listImages(ListImagesRequest.newBuilder().setPageSize(2)
          .putProperties("marker", marker).setPageToken(token).build());
      page.getImagesList().forEach(i -> seen.add(i.getId()));
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    assertEquals(ids, seen);
    assertEquals(3, images().listImages(ListImagesRequest.newBuilder().setOwner("project-list")
        .setStatus(ImageStatus.IMAGE_STATUS_QUEUED).build()).getImagesCount());
  }

  @Test
  void storeInfoNamesTheBackend() {
    assertEquals(expectedBackend(),
        images().getStoreInfo(GetStoreInfoRequest.getDefaultInstance()).getBackend());
  }

  @Test
  void downloadSendsTheSameBytesInOrder() throws Exception {
    Image image = create("dense");
    TestImage content = new TestImage(3L << 20).data(0, 3 << 20, 21);
    upload(content.messages(image.getId(), "u", CHUNK, true));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    downloadInto(image.getId(), out);
    assertArrayEquals(content.runs.get(0).bytes(), out.toByteArray());
  }
}
