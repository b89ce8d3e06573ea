package io.stratus.conductor.image;

import io.grpc.Channel;

import io.grpc.StatusRuntimeException;
import io.stratus.support.errors.ApiException;
import io.stratus.proto.image.v1.ActivateEmptyImageRequest;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UpdateImageRequest;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** {@link ImageRegistry} over the image-gateway's {@code image.v1} gRPC API. */
public final class GatewayImageRegistry implements ImageRegistry {
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  private final ImagesGrpc.ImagesBlockingStub stub;

  public GatewayImageRegistry(Channel channel) {
    this.stub = ImagesGrpc.newBlockingStub(channel);
  }

  private ImagesGrpc.ImagesBlockingStub call() {
    return stub.withDeadlineAfter(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public String createQueued(String name, String owner, Map<String, String> properties) {
    try {
      return call()
          .createImage(
              CreateImageRequest.newBuilder()
                  .setName(name)
                  .setOwner(owner)
                  .setDiskFormat("raw")  // agents stream the guest-visible content
                  .setContainerFormat("bare")
                  .putAllProperties(properties)
                  .build())
          .getImage()
          .getId();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        throw ApiException.invalidArgument("metadata", e.getStatus().getDescription());
      }
      throw ApiException.unavailable("image-gateway could not create the image: " + e.getStatus(), e);
    }
  }

  @Override
  public Optional<ImageRegistry.Status> status(String imageId) {
    try {
      var image = call().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
      return Optional.of(
          switch (image.getStatus()) {
            case IMAGE_STATUS_QUEUED -> ImageRegistry.Status.QUEUED;
            case IMAGE_STATUS_SAVING -> ImageRegistry.Status.SAVING;
            case IMAGE_STATUS_ACTIVE -> ImageRegistry.Status.ACTIVE;
            case IMAGE_STATUS_KILLED -> ImageRegistry.Status.KILLED;
            case IMAGE_STATUS_DELETED, IMAGE_STATUS_PENDING_DELETE -> ImageRegistry.Status.DELETED;
            default -> ImageRegistry.Status.OTHER;
          });
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND) {
        return Optional.empty();
      }
      throw ApiException.unavailable("image-gateway could not read image " + imageId, e);
    }
  }

  @Override
  public Optional<ImageInfo> find(String imageId) {
    try {
      var image = call().getImage(GetImageRequest.newBuilder().setImageId(imageId).build())
          .getImage();
      return Optional.of(new ImageInfo(image.getOwner(), image.getVisibility(),
          image.getPropertiesMap()));
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.NOT_FOUND
          || e.getStatus().getCode() == io.grpc.Status.Code.INVALID_ARGUMENT) {
        return Optional.empty();
      }
      throw ApiException.unavailable("image-gateway could not read image " + imageId, e);
    }
  }

  @Override
  public void activateEmpty(String imageId, Map<String, String> properties) {
    try {
      call().updateImage(UpdateImageRequest.newBuilder().setImageId(imageId)
          .putAllSetProperties(properties).build());
    } catch (StatusRuntimeException e) {
      throw ApiException.unavailable("image-gateway could not update image " + imageId + ": "
          + e.getStatus(), e);
    }
    try {
      call().activateEmptyImage(ActivateEmptyImageRequest.newBuilder().setImageId(imageId).build());
    } catch (StatusRuntimeException e) {
      throw ApiException.unavailable("image-gateway could not activate image " + imageId + ": "
          + e.getStatus(), e);
    }
  }

  @Override
  public java.util.List<Unfinished> unfinishedSnapshots() {
    java.util.List<Unfinished> all = new java.util.ArrayList<>();
    for (var st : java.util.List.of(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_QUEUED,
        io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_SAVING)) {
      String page = "";
      do {
        io.stratus.proto.image.v1.ListImagesResponse r;
        try {
          r = call().listImages(io.stratus.proto.image.v1.ListImagesRequest.newBuilder()
              .setStatus(st).putProperties("image_type", "snapshot").setPageSize(500)
              .setPageToken(page).build());
        } catch (StatusRuntimeException e) {
          throw ApiException.unavailable("image-gateway could not list images: " + e.getStatus(), e);
        }
        for (var image : r.getImagesList()) {
          all.add(new Unfinished(image.getId(),
              st == io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_QUEUED
                  ? ImageRegistry.Status.QUEUED : ImageRegistry.Status.SAVING,
              java.time.Instant.ofEpochSecond(image.getCreatedAt().getSeconds(),
                  image.getCreatedAt().getNanos())));
        }
        page = r.getNextPageToken();
      } while (!page.isEmpty());
    }
    return all;
  }

  @Override
  public void delete(String imageId) {
    try {
      call().deleteImage(DeleteImageRequest.newBuilder().setImageId(imageId)
          .setVolumeSnapshotsReleased(true).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) {
        throw ApiException.unavailable("image-gateway could not delete image " + imageId, e);
      }
    }
  }
}
