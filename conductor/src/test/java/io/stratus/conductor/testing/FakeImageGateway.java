package io.stratus.conductor.testing;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.CreateImageResponse;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.DeleteImageResponse;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.GetImageResponse;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.GetStoreInfoResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ListImagesRequest;
import io.stratus.proto.image.v1.ListImagesResponse;
import io.stratus.proto.image.v1.UpdateImageRequest;
import io.stratus.proto.image.v1.UpdateImageResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * In-memory stand-in for the image-gateway component in conductor tests.
 *
 * <p>It keeps image records only (Glance's model and lifecycle: queued → saving → active,
 * deleted), never bytes, so {@code UploadImage}, {@code DownloadImage},
 * {@code GetUploadStatus} and {@code ImportRbdClone} answer UNIMPLEMENTED. The real
 * gateway and its backends are tested elsewhere against real services.
 *
 * <p>{@link FakeComputeAgent} plays the uploading agent through {@link #beginUpload},
 * {@link #activate} and {@link #abortUpload}, so a snapshot's image becomes active from the
 * agent's side, as in production. Faults are injected per test with
 * {@link #failNextCreate} and {@link #failNextDelete}. Thread-safe.
 */
public class FakeImageGateway extends ImagesGrpc.ImagesImplBase {

  /** Glance's disk formats. */
  public static final Set<String> DISK_FORMATS =
      Set.of("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop");
  /** Glance's container formats. */
  public static final Set<String> CONTAINER_FORMATS =
      Set.of("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed");
  /** Glance's visibilities. */
  public static final Set<String> VISIBILITIES = Set.of("private", "shared", "community", "public");

  private record Stored(long seq, Image image) {}

  private final ConcurrentHashMap<String, Stored> images = new ConcurrentHashMap<>();
  /** Ids of deleted images: Glance never reuses them. */
  private final Set<String> deleted = ConcurrentHashMap.newKeySet();
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicInteger creates = new AtomicInteger();
  private final AtomicInteger deletes = new AtomicInteger();
  private final AtomicReference<Status> nextCreateFailure = new AtomicReference<>();
  private final AtomicReference<Status> nextDeleteFailure = new AtomicReference<>();

  // ---------------------------------------------------------------- RPCs

  @Override
  public void createImage(CreateImageRequest request, StreamObserver<CreateImageResponse> out) {
    creates.incrementAndGet();
    respond(out, () -> {
      Status injected = nextCreateFailure.getAndSet(null);
      if (injected != null) {
        throw injected.asRuntimeException();
      }
      // The real gateway's field rules, so the stand-in cannot accept what the gateway refuses.
      try {
        io.stratus.gateway.domain.ImageValidator.properties("properties", request.getPropertiesMap());
      } catch (io.stratus.support.errors.ApiException e) {
        throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
      }
      return CreateImageResponse.newBuilder().setImage(create(request)).build();
    });
  }

  @Override
  public void getImage(GetImageRequest request, StreamObserver<GetImageResponse> out) {
    respond(out, () -> {
      String id = requireUuid("image_id", request.getImageId());
      return GetImageResponse.newBuilder().setImage(live(id)).build();
    });
  }

  @Override
  public void listImages(ListImagesRequest request, StreamObserver<ListImagesResponse> out) {
    respond(out, () -> {
      if (request.getPageSize() < 0) {
        throw invalid("page_size", "must not be negative");
      }
      // Everything in one page: the fake never sets next_page_token.
      List<Image> matching = new ArrayList<>();
      for (Image image : images()) {
        if (!request.getOwner().isEmpty() && !request.getOwner().equals(image.getOwner())) {
          continue;
        }
        if (request.getStatus() != ImageStatus.IMAGE_STATUS_UNSPECIFIED
            && request.getStatus() != image.getStatus()) {
          continue;
        }
        boolean propertiesMatch = request.getPropertiesMap().entrySet().stream()
            .allMatch(e -> e.getValue().equals(image.getPropertiesMap().get(e.getKey())));
        if (propertiesMatch) {
          matching.add(image);
        }
      }
      return ListImagesResponse.newBuilder().addAllImages(matching).build();
    });
  }

  @Override
  public void updateImage(UpdateImageRequest request, StreamObserver<UpdateImageResponse> out) {
    respond(out, () -> {
      String id = requireUuid("image_id", request.getImageId());
      for (String key : request.getRemovePropertiesList()) {
        if (request.getSetPropertiesMap().containsKey(key)) {
          throw invalid("remove_properties", "property " + key + " is both set and removed");
        }
      }
      Image updated = mutate(id, image -> {
        Image.Builder b = image.toBuilder();
        if (!request.getName().isEmpty()) {
          b.setName(checkName(request.getName()));
        }
        b.putAllProperties(request.getSetPropertiesMap());
        request.getRemovePropertiesList().forEach(b::removeProperties);
        return b.setUpdatedAt(now()).build();
      });
      return UpdateImageResponse.newBuilder().setImage(updated).build();
    });
  }

  @Override
  public void deleteImage(DeleteImageRequest request, StreamObserver<DeleteImageResponse> out) {
    deletes.incrementAndGet();
    respond(out, () -> {
      Status injected = nextDeleteFailure.getAndSet(null);
      if (injected != null) {
        throw injected.asRuntimeException();
      }
      String id = requireUuid("image_id", request.getImageId());
      synchronized (this) {
        Image image = live(id);
        if (image.getProtected()) {
          throw Status.FAILED_PRECONDITION
              .withDescription("image " + id + " is protected").asRuntimeException();
        }
        // As the real gateway (ImageCatalog.delete).
        if (!request.getVolumeSnapshotsReleased()
            && image.getPropertiesMap().containsKey("block_device_mapping")
            && "true".equalsIgnoreCase(image.getPropertiesOrDefault("bdm_v2", ""))) {
          throw Status.FAILED_PRECONDITION.withDescription("image " + id + " is a volume-backed"
              + " snapshot: delete it through the conductor (Servers.DeleteSnapshotImage), which"
              + " also deletes its volume snapshots").asRuntimeException();
        }
        images.remove(id);
        deleted.add(id);
      }
      return DeleteImageResponse.getDefaultInstance();
    });
  }

  @Override
  public void getStoreInfo(GetStoreInfoRequest request, StreamObserver<GetStoreInfoResponse> out) {
    out.onNext(GetStoreInfoResponse.newBuilder().setBackend("filesystem").build());
    out.onCompleted();
  }

  /** Activates a queued image with size 0, as the real gateway does. */
  @Override
  public void activateEmptyImage(io.stratus.proto.image.v1.ActivateEmptyImageRequest r,
      StreamObserver<io.stratus.proto.image.v1.ActivateEmptyImageResponse> out) {
    try {
      Image image = activate(r.getImageId(), 0, "", "");
      out.onNext(io.stratus.proto.image.v1.ActivateEmptyImageResponse.newBuilder().setImage(image).build());
      out.onCompleted();
    } catch (StatusRuntimeException e) {
      out.onError(e);
    }
  }

  // ---------------------------------------------------------------- test helpers

  /**
   * Makes a queued or saving image active with the given digests, as the end of a
   * successful upload does; virtual size = size.
   *
   * @throws StatusRuntimeException NOT_FOUND if there is no such live image,
   *     FAILED_PRECONDITION if it is neither queued nor saving
   */
  public Image activate(String imageId, long size, String md5, String sha512) {
    return activate(imageId, size, size, md5, sha512);
  }

  /** As {@link #activate(String, long, String, String)} with a separate virtual size. */
  public Image activate(String imageId, long size, long virtualSize, String md5, String sha512) {
    return mutate(imageId, image -> {
      if (image.getStatus() != ImageStatus.IMAGE_STATUS_QUEUED
          && image.getStatus() != ImageStatus.IMAGE_STATUS_SAVING) {
        throw Status.FAILED_PRECONDITION.withDescription(
            "image " + imageId + " is " + image.getStatus() + ", not queued or saving")
            .asRuntimeException();
      }
      return image.toBuilder()
          .setStatus(ImageStatus.IMAGE_STATUS_ACTIVE)
          .setSize(size)
          .setVirtualSize(virtualSize)
          .setChecksum(md5)
          .setOsHashAlgo("sha512")
          .setOsHashValue(sha512)
          .setUpdatedAt(now())
          .build();
    });
  }

  /**
   * Moves a queued image to saving, as the first bytes of an upload do.
   *
   * @throws StatusRuntimeException NOT_FOUND if there is no such live image,
   *     FAILED_PRECONDITION if it is not queued
   */
  public Image beginUpload(String imageId) {
    return mutate(imageId, image -> {
      if (image.getStatus() != ImageStatus.IMAGE_STATUS_QUEUED) {
        throw Status.FAILED_PRECONDITION.withDescription(
            "image " + imageId + " is " + image.getStatus() + ", not queued").asRuntimeException();
      }
      return image.toBuilder().setStatus(ImageStatus.IMAGE_STATUS_SAVING)
          .setUpdatedAt(now()).build();
    });
  }

  /**
   * Puts a saving image back to queued, as an interrupted upload does. Does nothing when
   * the image is gone or not saving.
   */
  public void abortUpload(String imageId) {
    images.computeIfPresent(imageId, (id, stored) ->
        stored.image().getStatus() != ImageStatus.IMAGE_STATUS_SAVING
            ? stored
            : new Stored(stored.seq(), stored.image().toBuilder()
                .setStatus(ImageStatus.IMAGE_STATUS_QUEUED).setUpdatedAt(now()).build()));
  }

  /**
   * Creates an active qcow2 image with a generated id, e.g. a base image for Spawn: public
   * and owned by the admin project, as an operator's base images are.
   */
  public Image seedActiveImage(String name) {
    return seedActiveImage(name, Map.of());
  }

  /** As {@link #seedActiveImage(String)}, with image properties. */
  public Image seedActiveImage(String name, Map<String, String> properties) {
    Image queued = create(CreateImageRequest.newBuilder()
        .setName(name).setDiskFormat("qcow2").setContainerFormat("bare")
        .setOwner("admin-project").setVisibility("public")
        .putAllProperties(properties).build());
    return activate(queued.getId(), 1L << 20, "0".repeat(32), "0".repeat(128));
  }

  /** An active image of {@code owner} with {@code visibility}, as a user's upload is. */
  public Image seedImage(String name, String owner, String visibility) {
    return seedImage(name, owner, visibility, Map.of());
  }

  /** As {@link #seedImage(String, String, String)}, with properties (e.g. its members). */
  public Image seedImage(String name, String owner, String visibility,
      Map<String, String> properties) {
    Image queued = create(CreateImageRequest.newBuilder()
        .setName(name).setDiskFormat("qcow2").setContainerFormat("bare")
        .setOwner(owner).setVisibility(visibility).putAllProperties(properties).build());
    return activate(queued.getId(), 1L << 20, "0".repeat(32), "0".repeat(128));
  }

  /** The live (not deleted) images, in creation order. */
  public List<Image> images() {
    return images.values().stream()
        .sorted(Comparator.comparingLong(Stored::seq))
        .map(Stored::image)
        .toList();
  }

  /** The live image with that id, if any. */
  public Optional<Image> image(String id) {
    return Optional.ofNullable(images.get(id)).map(Stored::image);
  }

  /** Whether an image with that id was deleted. */
  public boolean wasDeleted(String id) {
    return deleted.contains(id);
  }

  /** The next CreateImage call fails with {@code status}, creating nothing. */
  public void failNextCreate(Status status) {
    nextCreateFailure.set(requireError(status));
  }

  /** The next DeleteImage call fails with {@code status}, deleting nothing. */
  public void failNextDelete(Status status) {
    nextDeleteFailure.set(requireError(status));
  }

  /** How many CreateImage calls arrived, failed ones included. */
  public int createCount() {
    return creates.get();
  }

  /** How many DeleteImage calls arrived, failed ones included. */
  public int deleteCount() {
    return deletes.get();
  }

  // ---------------------------------------------------------------- internals

  private synchronized Image create(CreateImageRequest request) {
    String id = request.getId().isEmpty()
        ? UUID.randomUUID().toString()
        : requireUuid("id", request.getId());
    checkName(request.getName());
    checkIn("disk_format", request.getDiskFormat(), DISK_FORMATS);
    checkIn("container_format", request.getContainerFormat(), CONTAINER_FORMATS);
    checkIn("visibility", request.getVisibility(), VISIBILITIES);
    if (request.getMinDisk() < 0) {
      throw invalid("min_disk", "must not be negative");
    }
    if (request.getMinRam() < 0) {
      throw invalid("min_ram", "must not be negative");
    }
    if (images.containsKey(id) || deleted.contains(id)) {
      throw Status.ALREADY_EXISTS.withDescription("image " + id + " already exists")
          .asRuntimeException();
    }
    Timestamp now = now();
    Image image = Image.newBuilder()
        .setId(id)
        .setName(request.getName())
        .setStatus(ImageStatus.IMAGE_STATUS_QUEUED)
        .setDiskFormat(request.getDiskFormat())
        .setContainerFormat(request.getContainerFormat())
        .setOwner(request.getOwner())
        .setVisibility(request.getVisibility().isEmpty() ? "private" : request.getVisibility())
        .setMinDisk(request.getMinDisk())
        .setMinRam(request.getMinRam())
        .putAllProperties(request.getPropertiesMap())
        .setCreatedAt(now)
        .setUpdatedAt(now)
        .build();
    images.put(id, new Stored(sequence.incrementAndGet(), image));
    return image;
  }

  private interface Change {
    Image apply(Image image);
  }

  /** Makes an image look {@code age} older (its created_at moved back), for expiry tests. */
  public Image backdate(String id, java.time.Duration age) {
    return mutate(id, image -> image.toBuilder().setCreatedAt(Timestamp.newBuilder()
        .setSeconds(image.getCreatedAt().getSeconds() - age.getSeconds())
        .setNanos(image.getCreatedAt().getNanos())).build());
  }

  /** Atomically replaces a live image; NOT_FOUND, or FAILED_PRECONDITION if deleted. */
  private synchronized Image mutate(String id, Change change) {
    Stored stored = images.get(id);
    if (stored == null) {
      if (deleted.contains(id)) {
        throw Status.FAILED_PRECONDITION.withDescription("image " + id + " is deleted")
            .asRuntimeException();
      }
      throw notFound(id);
    }
    Image updated = change.apply(stored.image());
    images.put(id, new Stored(stored.seq(), updated));
    return updated;
  }

  private Image live(String id) {
    Stored stored = images.get(id);
    if (stored == null) {
      throw notFound(id);
    }
    return stored.image();
  }

  private static String checkName(String name) {
    if (name.isEmpty()) {
      throw invalid("name", "must not be empty");
    }
    if (name.length() > 255) {
      throw invalid("name", "longer than 255 characters");
    }
    return name;
  }

  /** Empty is allowed (unset); anything else must be in {@code allowed}. */
  private static void checkIn(String field, String value, Set<String> allowed) {
    if (!value.isEmpty() && !allowed.contains(value)) {
      throw invalid(field, "'" + value + "' is not one of " + allowed.stream().sorted().toList());
    }
  }

  private static String requireUuid(String field, String value) {
    try {
      if (UUID.fromString(value).toString().equalsIgnoreCase(value)) {
        return value;
      }
    } catch (IllegalArgumentException ignored) {
      // fall through
    }
    throw invalid(field, "'" + value + "' is not a UUID");
  }

  private static StatusRuntimeException invalid(String field, String why) {
    return Status.INVALID_ARGUMENT.withDescription(field + ": " + why).asRuntimeException();
  }

  private static StatusRuntimeException notFound(String id) {
    return Status.NOT_FOUND.withDescription("image " + id + " not found").asRuntimeException();
  }

  private static Status requireError(Status status) {
    if (status.isOk()) {
      throw new IllegalArgumentException("an injected failure needs a non-OK status");
    }
    return status;
  }

  private static Timestamp now() {
    Instant now = Instant.now();
    return Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()).build();
  }

  private interface Call<T> {
    T run();
  }

  private static <T> void respond(StreamObserver<T> out, Call<T> call) {
    T response;
    try {
      response = call.run();
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    }
    out.onNext(response);
    out.onCompleted();
  }

  @Override
  public String toString() {
    return "FakeImageGateway" + Map.of("images", images.size(), "deleted", deleted.size());
  }
}
